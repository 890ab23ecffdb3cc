//! The IDX reader against hand-made files: every type code, plain and gzipped, the MNIST
//! image and label loaders, and the text of every error.

use ferrite::data::{mnist_images, mnist_labels, mnist_pair, read_idx, IdxData};
use flate2::write::GzEncoder;
use flate2::Compression;
use std::io::Write;
use std::path::PathBuf;

/// A fresh file `name` in a per-process temporary folder holding `bytes`.
fn file(name: &str, bytes: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ferrite-idx-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// An IDX header: two zero bytes, the type code, the dimension count, the sizes.
fn header(code: u8, dims: &[u32]) -> Vec<u8> {
    let mut h = vec![0, 0, code, dims.len() as u8];
    for d in dims {
        h.extend(d.to_be_bytes());
    }
    h
}

/// An IDX file of u8 values.
fn idx_u8(dims: &[u32], values: &[u8]) -> Vec<u8> {
    let mut b = header(0x08, dims);
    b.extend(values);
    b
}

fn error(result: ferrite::Result<impl std::fmt::Debug>) -> String {
    result.unwrap_err().to_string()
}

#[test]
fn plain_and_gzipped_files_read_the_same_whatever_their_name() {
    let values: Vec<u8> = (0..24).collect();
    let bytes = idx_u8(&[2, 3, 4], &values);
    let plain = read_idx(file("plain.gz", &bytes)).unwrap();
    // Named .idx but gzipped: detected by the magic bytes, not the name.
    let zipped = read_idx(file("zipped.idx", &gzip(&bytes))).unwrap();
    assert_eq!(plain.dims, vec![2, 3, 4]);
    assert_eq!(plain.data, IdxData::U8(values));
    assert_eq!(zipped, plain);
}

#[test]
fn every_type_code_decodes_big_endian_values() {
    let mut b = header(0x09, &[3]);
    b.extend([0xff, 0x80, 0x7f]);
    assert_eq!(
        read_idx(file("i8", &b)).unwrap().data,
        IdxData::I8(vec![-1, -128, 127])
    );
    let mut b = header(0x0B, &[2]);
    b.extend((-2i16).to_be_bytes());
    b.extend(300i16.to_be_bytes());
    assert_eq!(
        read_idx(file("i16", &b)).unwrap().data,
        IdxData::I16(vec![-2, 300])
    );
    let mut b = header(0x0C, &[1, 2]);
    b.extend((-70000i32).to_be_bytes());
    b.extend(123456789i32.to_be_bytes());
    let a = read_idx(file("i32", &b)).unwrap();
    assert_eq!(a.dims, vec![1, 2]);
    assert_eq!(a.data, IdxData::I32(vec![-70000, 123456789]));
    let mut b = header(0x0D, &[2]);
    b.extend(1.5f32.to_be_bytes());
    b.extend((-0.25f32).to_be_bytes());
    assert_eq!(
        read_idx(file("f32", &b)).unwrap().data,
        IdxData::F32(vec![1.5, -0.25])
    );
    let mut b = header(0x0E, &[1]);
    b.extend(std::f64::consts::PI.to_be_bytes());
    assert_eq!(
        read_idx(file("f64", &gzip(&b))).unwrap().data,
        IdxData::F64(vec![std::f64::consts::PI])
    );
}

#[test]
fn mnist_images_are_scaled_to_unit_range_and_labels_are_int64() {
    let images = file(
        "img.gz",
        &gzip(&idx_u8(
            &[2, 2, 3],
            &[0, 51, 102, 153, 204, 255, 255, 0, 0, 0, 0, 0],
        )),
    );
    let labels = file("lab.gz", &gzip(&idx_u8(&[2], &[9, 0])));
    let x = mnist_images(&images).unwrap();
    assert_eq!(x.dims(), &[2, 1, 2, 3]);
    assert_eq!(
        x.to_vec(),
        vec![0.0, 0.2, 0.4, 0.6, 0.8, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    );
    let y = mnist_labels(&labels).unwrap();
    assert_eq!(y.dtype(), ferrite::DType::I64);
    assert_eq!(y.to_vec_i64(), vec![9, 0]);
    let (x2, y2) = mnist_pair(&images, &labels).unwrap();
    assert_eq!((x2.to_vec(), y2.to_vec_i64()), (x.to_vec(), vec![9, 0]));
}

#[test]
fn images_and_labels_that_are_not_a_pair_are_refused() {
    let images = file("pair-img", &idx_u8(&[3, 1, 1], &[1, 2, 3]));
    let labels = file("pair-lab", &idx_u8(&[2], &[1, 2]));
    let msg = error(mnist_pair(&images, &labels));
    assert!(
        msg.starts_with(&format!(
            "{}: 3 images but {} has 2 labels",
            images.display(),
            labels.display()
        )) && msg.contains("not a pair"),
        "{msg}"
    );
    // Each loader refuses the other's file, and files of another type.
    let msg = error(mnist_labels(&images));
    assert!(
        msg.contains("dims [3, 1, 1]") && msg.contains("labels file is 1-D unsigned bytes"),
        "{msg}"
    );
    let mut b = header(0x0C, &[1]);
    b.extend(5i32.to_be_bytes());
    let msg = error(mnist_labels(file("lab-i32", &b)));
    assert!(msg.contains("holds int (i32) values of dims [1]"), "{msg}");
    let msg = error(mnist_images(&labels));
    assert!(
        msg.contains("has dims [2]; MNIST-style images have 3"),
        "{msg}"
    );
    let mut b = header(0x0D, &[1, 1, 1]);
    b.extend(0.5f32.to_be_bytes());
    let msg = error(mnist_images(file("img-f32", &b)));
    assert!(msg.contains("holds float (f32) values"), "{msg}");
}

#[test]
fn a_file_that_is_not_idx_says_what_it_starts_with() {
    let png = file("picture.idx", b"\x89PNG\r\n\x1a\n....");
    let msg = error(read_idx(&png));
    assert!(
        msg.starts_with(&png.display().to_string())
            && msg.contains("not an IDX file: it starts with the bytes 89 50 4e 47"),
        "{msg}"
    );
    let msg = error(read_idx(file("text.gz", &gzip(b"hello world"))));
    assert!(
        msg.contains("not an IDX file: after decompressing, it starts with the bytes 68 65 6c 6c"),
        "{msg}"
    );
    assert!(error(read_idx(file("empty", b""))).contains("not an IDX file: it is empty"));
    assert!(error(read_idx(file("two", &[0, 0]))).contains("starts with the bytes 00 00,"));
    let msg = error(read_idx(file("code", &[0, 0, 0x0A, 1, 0, 0, 0, 1, 7])));
    assert!(
        msg.contains("unknown IDX type code 0x0a (header 00 00 0a 01)"),
        "{msg}"
    );
}

#[test]
fn short_files_say_how_many_bytes_were_expected_and_found() {
    let bytes = idx_u8(&[2, 28, 28], &[7; 100]);
    for (name, data) in [("short", bytes.clone()), ("short.gz", gzip(&bytes))] {
        let msg = error(read_idx(file(name, &data)));
        assert!(
            msg.contains("expected 1568 bytes of data for dims [2, 28, 28], found 100"),
            "{name}: {msg}"
        );
    }
    // Cut inside the dimension sizes.
    let msg = error(read_idx(file("dims", &[0, 0, 8, 3, 0, 0, 0, 2, 0])));
    assert!(
        msg.contains("names 3 dimensions, so it needs 12 bytes of sizes after the first 4, but the file ends after 5"),
        "{msg}"
    );
    // Too long is refused too: the header does not describe the file.
    let msg = error(read_idx(file("long", &idx_u8(&[2], &[1, 2, 3]))));
    assert!(
        msg.contains("1 byte(s) follow the 2 bytes of data for dims [2]"),
        "{msg}"
    );
}

#[test]
fn a_corrupt_or_cut_gzip_stream_is_named() {
    let good = gzip(&idx_u8(&[4, 4], &[3; 16]));
    // The gzip header intact, the deflate stream replaced by junk.
    let mut corrupt = good[..10].to_vec();
    corrupt.extend([0xff; 20]);
    let msg = error(read_idx(file("corrupt.gz", &corrupt)));
    assert!(
        msg.contains("the gzip stream is corrupt") && msg.contains("download the file again"),
        "{msg}"
    );
    let cut = &good[..good.len() - 12];
    let msg = error(read_idx(file("cut.gz", cut)));
    assert!(
        msg.contains("the gzip stream ends early") && msg.contains("cut short"),
        "{msg}"
    );
}

#[test]
fn impossible_sizes_are_refused_before_allocating() {
    let msg = error(read_idx(file("overflow", &header(0x0E, &[u32::MAX; 3]))));
    assert!(
        msg.contains("the dimensions [4294967295, 4294967295, 4294967295] hold more values than can be counted"),
        "{msg}"
    );
    // 10^15 bytes claimed by a tiny gzip file: refused by the memory check (this machine
    // has less than 900 TiB free), not by an allocation failure.
    if ferrite::data::available_memory().is_some() {
        let path = file(
            "huge.gz",
            &gzip(&header(0x08, &[100_000, 100_000, 100_000])),
        );
        let msg = error(read_idx(&path));
        assert!(
            msg.contains(
                "the IDX data of dims [100000, 100000, 100000] would need about 931322.6 GiB"
            ),
            "{msg}"
        );
    }
    // Plain files are checked against their length first.
    let msg = error(read_idx(file(
        "huge",
        &header(0x08, &[100_000, 100_000, 100_000]),
    )));
    assert!(
        msg.contains(
            "expected 1000000000000000 bytes of data for dims [100000, 100000, 100000], found 0"
        ),
        "{msg}"
    );
}

#[test]
fn a_missing_file_is_named() {
    let msg = error(read_idx("/nonexistent/train-images-idx3-ubyte.gz"));
    assert!(
        msg.starts_with("/nonexistent/train-images-idx3-ubyte.gz: "),
        "{msg}"
    );
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
    /// Any bytes, plain or gzipped, give a value or an error, never a panic.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64), zip in proptest::prelude::any::<bool>()) {
        // An IDX-looking start makes the random bytes reach the size and data checks.
        let mut b = vec![0, 0, 8, bytes.first().map_or(1, |d| d % 4)];
        b.extend(&bytes);
        let data = if zip { gzip(&b) } else { b };
        let path = file(&format!("fuzz-{}", std::thread::current().name().unwrap_or("t").replace(':', "_")), &data);
        let _ = read_idx(&path);
        let _ = mnist_images(&path);
        let _ = mnist_labels(&path);
    }
}
