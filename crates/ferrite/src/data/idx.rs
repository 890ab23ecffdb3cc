//! The IDX format of MNIST, Fashion-MNIST and their relatives, gzipped or not.
//!
//! An IDX file is a big-endian header, two zero bytes, a type code (0x08 u8, 0x09 i8,
//! 0x0B i16, 0x0C i32, 0x0D f32, 0x0E f64) and a dimension count, then one u32 size per
//! dimension, then the values in row-major order. Files are usually distributed gzipped
//! (`train-images-idx3-ubyte.gz`); gzip is recognised by its magic bytes, not by the name,
//! so a renamed or already unpacked file reads the same.

use super::memory::{available_memory, check_memory};
use crate::error::{FerriteError, Result};
use crate::Tensor;
use std::io::Read;
use std::path::Path;

/// The values of an IDX file, in the type its header names.
#[derive(Clone, Debug, PartialEq)]
pub enum IdxData {
    /// Type code 0x08: unsigned bytes (MNIST's pixels and labels).
    U8(Vec<u8>),
    /// Type code 0x09: signed bytes.
    I8(Vec<i8>),
    /// Type code 0x0B: 16-bit signed integers.
    I16(Vec<i16>),
    /// Type code 0x0C: 32-bit signed integers.
    I32(Vec<i32>),
    /// Type code 0x0D: 32-bit floats.
    F32(Vec<f32>),
    /// Type code 0x0E: 64-bit floats.
    F64(Vec<f64>),
}

impl IdxData {
    /// The number of values.
    pub fn len(&self) -> usize {
        match self {
            IdxData::U8(v) => v.len(),
            IdxData::I8(v) => v.len(),
            IdxData::I16(v) => v.len(),
            IdxData::I32(v) => v.len(),
            IdxData::F32(v) => v.len(),
            IdxData::F64(v) => v.len(),
        }
    }

    /// Whether there are no values (a dimension of size 0).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The type's name as the IDX specification spells it ("unsigned byte", "float", ...).
    pub fn type_name(&self) -> &'static str {
        match self {
            IdxData::U8(_) => "unsigned byte (u8)",
            IdxData::I8(_) => "signed byte (i8)",
            IdxData::I16(_) => "short (i16)",
            IdxData::I32(_) => "int (i32)",
            IdxData::F32(_) => "float (f32)",
            IdxData::F64(_) => "double (f64)",
        }
    }
}

/// One IDX file: its dimensions and its values in row-major order.
#[derive(Clone, Debug, PartialEq)]
pub struct IdxArray {
    /// The sizes of the dimensions, outermost first (`[60000, 28, 28]` for MNIST's images).
    pub dims: Vec<usize>,
    /// The values; `data.len()` is the product of `dims`.
    pub data: IdxData,
}

/// The bytes per value and a reader for each type code the format defines.
fn element_size(code: u8) -> Option<usize> {
    match code {
        0x08 | 0x09 => Some(1),
        0x0B => Some(2),
        0x0C | 0x0D => Some(4),
        0x0E => Some(8),
        _ => None,
    }
}

/// A data error about the whole file `path`.
fn bad(path: &Path, message: impl Into<String>) -> FerriteError {
    FerriteError::Data {
        path: path.to_path_buf(),
        line: 0,
        message: message.into(),
    }
}

/// Bytes as `1f 8b 08 00`, for messages that show what a file starts with.
fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Reads up to `limit` bytes from `reader` into `buf`, mapping a broken gzip stream (the
/// decoder's error) to a message naming the file; `gzip` says whether it was decompressing.
fn read_up_to(
    reader: &mut dyn Read,
    limit: u64,
    buf: &mut Vec<u8>,
    path: &Path,
    gzip: bool,
) -> Result<()> {
    let result = reader.take(limit).read_to_end(buf);
    result.map(|_| ()).map_err(|e| {
        let cut =
            e.kind() == std::io::ErrorKind::UnexpectedEof || e.to_string().contains("incomplete");
        if gzip && cut {
            bad(
                path,
                format!(
                    "the gzip stream ends early ({e}): the file is cut short (an interrupted \
                     download?); download it again"
                ),
            )
        } else if gzip && e.kind() != std::io::ErrorKind::PermissionDenied {
            bad(
                path,
                format!(
                    "the gzip stream is corrupt ({e}); download the file again, or unpack it \
                     with `gunzip` to see where it breaks"
                ),
            )
        } else {
            FerriteError::Io {
                path: path.to_path_buf(),
                source: e,
            }
        }
    })
}

/// Reads an IDX file, gzipped or plain (told apart by gzip's magic bytes `1f 8b`).
///
/// Errors name the file and say what is wrong: a first few bytes that are not an IDX header
/// (shown in hex), an unknown type code, dimensions whose product overflows or does not fit in
/// the free memory, fewer data bytes than the dimensions need (or more), a corrupt gzip stream.
///
/// ```
/// use ferrite::data::{read_idx, IdxData};
/// let path = std::env::temp_dir().join(format!("ferrite-doc-{}.idx", std::process::id()));
/// // Two zero bytes, type 0x08 (u8), 2 dimensions: 2 x 3, then six values.
/// let mut bytes = vec![0, 0, 0x08, 2, 0, 0, 0, 2, 0, 0, 0, 3];
/// bytes.extend([1, 2, 3, 4, 5, 6]);
/// std::fs::write(&path, &bytes).unwrap();
/// let idx = read_idx(&path).unwrap();
/// assert_eq!(idx.dims, vec![2, 3]);
/// assert_eq!(idx.data, IdxData::U8(vec![1, 2, 3, 4, 5, 6]));
/// std::fs::write(&path, b"P5\n28 28\n").unwrap();
/// let err = read_idx(&path).unwrap_err().to_string();
/// assert!(err.contains("not an IDX file"), "{err}");
/// std::fs::remove_file(&path).unwrap();
/// ```
pub fn read_idx(path: impl AsRef<Path>) -> Result<IdxArray> {
    let path = path.as_ref();
    let io = |source| FerriteError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let file_len = file.metadata().map_err(io)?.len();
    let mut file = std::io::BufReader::new(file);
    let mut magic = Vec::with_capacity(2);
    read_up_to(&mut file, 2, &mut magic, path, false)?;
    let gzip = magic == [0x1f, 0x8b];
    // The two bytes already read go back in front of the stream.
    let chained = std::io::Cursor::new(magic).chain(file);
    let mut reader: Box<dyn Read> = if gzip {
        Box::new(flate2::read::MultiGzDecoder::new(chained))
    } else {
        Box::new(chained)
    };
    let what = if gzip {
        "after decompressing, it"
    } else {
        "it"
    };

    let mut header = Vec::with_capacity(4);
    read_up_to(&mut reader, 4, &mut header, path, gzip)?;
    if header.len() < 4 || header[0] != 0 || header[1] != 0 {
        let shown = if header.is_empty() {
            "is empty".to_string()
        } else {
            format!("starts with the bytes {}", hex(&header))
        };
        return Err(bad(
            path,
            format!(
                "not an IDX file: {what} {shown}, but an IDX file starts with two zero bytes, a \
                 type code and a dimension count (00 00 08 03 for MNIST's images)"
            ),
        ));
    }
    let (code, ndims) = (header[2], header[3] as usize);
    let Some(size) = element_size(code) else {
        return Err(bad(
            path,
            format!(
                "unknown IDX type code 0x{code:02x} (header {}); the format defines 0x08 u8, \
                 0x09 i8, 0x0B i16, 0x0C i32, 0x0D f32 and 0x0E f64",
                hex(&header)
            ),
        ));
    };

    let mut sizes = Vec::with_capacity(4 * ndims);
    read_up_to(&mut reader, 4 * ndims as u64, &mut sizes, path, gzip)?;
    if sizes.len() < 4 * ndims {
        return Err(bad(
            path,
            format!(
                "the header names {ndims} dimensions, so it needs {} bytes of sizes after the \
                 first 4, but the file ends after {}; the file is cut short, download it again",
                4 * ndims,
                sizes.len()
            ),
        ));
    }
    let dims: Vec<usize> = sizes
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize)
        .collect();
    let count = dims
        .iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(d as u64));
    let bytes = count.and_then(|c| c.checked_mul(size as u64));
    let Some(expected) = bytes.filter(|&b| usize::try_from(b).is_ok()) else {
        return Err(bad(
            path,
            format!(
                "the dimensions {dims:?} hold more values than can be counted; the header is \
                 corrupt, or this is not an IDX file"
            ),
        ));
    };
    // A plain file's length already tells whether the data is all there: a short file is
    // refused before anything is allocated.
    let header_len = 4 + 4 * ndims as u64;
    if !gzip && file_len < header_len.saturating_add(expected) {
        return Err(short(
            path,
            expected,
            &dims,
            file_len.saturating_sub(header_len),
        ));
    }
    check_memory(
        Some(expected),
        available_memory(),
        &format!("{}: the IDX data of dims {dims:?}", path.display()),
        "the header may be corrupt; otherwise free memory or use a machine with more",
    )?;
    // A gzip header may claim far more than its stream holds; deflate expands at most about
    // 1032-fold, so the first reservation is bounded by what the compressed file can hold.
    let reserve = if gzip {
        expected.min(file_len.saturating_mul(1032))
    } else {
        expected
    };
    let mut data = Vec::with_capacity(reserve as usize);
    read_up_to(&mut reader, expected, &mut data, path, gzip)?;
    if (data.len() as u64) < expected {
        return Err(short(path, expected, &dims, data.len() as u64));
    }
    // Bytes after the data mean the dims do not describe the file: refuse rather than read a
    // prefix of something else.
    let mut extra = Vec::new();
    read_up_to(&mut reader, 1 << 20, &mut extra, path, gzip)?;
    if !extra.is_empty() {
        let n = if extra.len() == 1 << 20 {
            "at least 1 MiB".to_string()
        } else {
            format!("{} byte(s)", extra.len())
        };
        return Err(bad(
            path,
            format!(
                "{n} follow the {expected} bytes of data for dims {dims:?}; the header does not \
                 describe this file (it is corrupt, or not an IDX file)"
            ),
        ));
    }
    Ok(IdxArray {
        data: decode(code, data),
        dims,
    })
}

/// The "file ends early" error: `found` of the `expected` data bytes are there.
fn short(path: &Path, expected: u64, dims: &[usize], found: u64) -> FerriteError {
    bad(
        path,
        format!(
            "expected {expected} bytes of data for dims {dims:?}, found {found}; the file is cut \
             short (an interrupted download?), download it again"
        ),
    )
}

/// The values of type `code` from their big-endian bytes (whose length is a multiple of the
/// type's size).
fn decode(code: u8, bytes: Vec<u8>) -> IdxData {
    fn be<const N: usize, T>(bytes: &[u8], f: fn([u8; N]) -> T) -> Vec<T> {
        bytes
            .chunks_exact(N)
            .map(|c| {
                let mut a = [0u8; N];
                a.copy_from_slice(c);
                f(a)
            })
            .collect()
    }
    match code {
        0x08 => IdxData::U8(bytes),
        0x09 => IdxData::I8(bytes.into_iter().map(|b| b as i8).collect()),
        0x0B => IdxData::I16(be(&bytes, i16::from_be_bytes)),
        0x0C => IdxData::I32(be(&bytes, i32::from_be_bytes)),
        0x0D => IdxData::F32(be(&bytes, f32::from_be_bytes)),
        _ => IdxData::F64(be(&bytes, f64::from_be_bytes)),
    }
}

/// MNIST-style images: a 3-D u8 IDX file (images, rows, columns) as an `(N, 1, H, W)` f32
/// tensor with pixels scaled to [0, 1] (value / 255).
///
/// ```
/// use ferrite::data::mnist_images;
/// let path = std::env::temp_dir().join(format!("ferrite-doc-img-{}.idx", std::process::id()));
/// let mut bytes = vec![0, 0, 0x08, 3, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 2];
/// bytes.extend([0, 255]);
/// std::fs::write(&path, &bytes).unwrap();
/// let x = mnist_images(&path).unwrap();
/// assert_eq!(x.dims(), &[1, 1, 1, 2]);
/// assert_eq!(x.to_vec(), vec![0.0, 1.0]);
/// std::fs::remove_file(&path).unwrap();
/// ```
pub fn mnist_images(path: impl AsRef<Path>) -> Result<Tensor> {
    let path = path.as_ref();
    let idx = read_idx(path)?;
    let IdxData::U8(pixels) = &idx.data else {
        return Err(bad(
            path,
            format!(
                "holds {} values; MNIST-style images are unsigned bytes (type code 0x08)",
                idx.data.type_name()
            ),
        ));
    };
    let &[n, h, w] = idx.dims.as_slice() else {
        return Err(bad(
            path,
            format!(
                "has dims {:?}; MNIST-style images have 3 (images, rows, columns), is this a \
                 labels file?",
                idx.dims
            ),
        ));
    };
    // The f32 copy needs four bytes per pixel on top of the bytes already read.
    check_memory(
        (pixels.len() as u64).checked_mul(4),
        available_memory(),
        &format!("{}: {n} images of {h}x{w} pixels as f32", path.display()),
        "use a machine with more memory",
    )?;
    let values: Vec<f32> = pixels.iter().map(|&p| p as f32 / 255.0).collect();
    Ok(Tensor::from_vec(values, [n, 1, h, w]))
}

/// MNIST-style labels: a 1-D u8 IDX file as an `(N,)` i64 tensor of class indices.
///
/// ```
/// use ferrite::data::mnist_labels;
/// let path = std::env::temp_dir().join(format!("ferrite-doc-lab-{}.idx", std::process::id()));
/// std::fs::write(&path, [0, 0, 0x08, 1, 0, 0, 0, 3, 7, 2, 9]).unwrap();
/// assert_eq!(mnist_labels(&path).unwrap().to_vec_i64(), vec![7, 2, 9]);
/// std::fs::remove_file(&path).unwrap();
/// ```
pub fn mnist_labels(path: impl AsRef<Path>) -> Result<Tensor> {
    let path = path.as_ref();
    let idx = read_idx(path)?;
    match (&idx.data, idx.dims.as_slice()) {
        (IdxData::U8(labels), &[n]) => Ok(Tensor::from_i64(
            labels.iter().map(|&l| i64::from(l)).collect(),
            [n],
        )),
        (data, dims) => Err(bad(
            path,
            format!(
                "holds {} values of dims {dims:?}; an MNIST-style labels file is 1-D unsigned \
                 bytes (type 0x08, one dimension), is this an images file?",
                data.type_name()
            ),
        )),
    }
}

/// A matching pair of MNIST-style files: the images ([`mnist_images`]) and their labels
/// ([`mnist_labels`]), refused when their counts differ (two files that are not a pair).
///
/// ```no_run
/// use ferrite::data::mnist_pair;
/// let dir = std::path::Path::new("/usr/share/datasets/fashion-mnist");
/// let (x, y) = mnist_pair(
///     dir.join("train-images-idx3-ubyte.gz"),
///     dir.join("train-labels-idx1-ubyte.gz"),
/// )?;
/// assert_eq!(x.dims(), &[60000, 1, 28, 28]);
/// assert_eq!(y.dims(), &[60000]);
/// # Ok::<(), ferrite::FerriteError>(())
/// ```
pub fn mnist_pair(images: impl AsRef<Path>, labels: impl AsRef<Path>) -> Result<(Tensor, Tensor)> {
    let (images, labels) = (images.as_ref(), labels.as_ref());
    // Labels first: the small file finds a mismatch before the large one is decoded.
    let y = mnist_labels(labels)?;
    let x = mnist_images(images)?;
    let (n, m) = (x.dims()[0], y.dims()[0]);
    if n != m {
        return Err(bad(
            images,
            format!(
                "{n} images but {} has {m} labels; the two files are not a pair (train-images \
                 goes with train-labels, t10k-images with t10k-labels)",
                labels.display()
            ),
        ));
    }
    Ok((x, y))
}
