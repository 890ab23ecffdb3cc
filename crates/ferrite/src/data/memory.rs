//! Memory budgets: work whose size comes from user input (a file, an image size, a layer
//! width) is refused up front, with a message, when it cannot fit, instead of growing until
//! the operating system kills the process.

use crate::error::{FerriteError, Result};

/// Bytes of main memory free for new allocations (Linux's `MemAvailable`); `None` where the
/// system does not say.
pub fn available_memory() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// Refuses `bytes` (`None`: more than a `u64` can count) when more than `available` bytes
/// are free, naming `what` needs it and `fix`, the change that makes it fit. With no
/// `available` figure only an overflowing count is refused.
///
/// ```
/// use ferrite::data::check_memory;
/// assert!(check_memory(Some(1 << 20), Some(1 << 30), "the images", "use --size 64").is_ok());
/// let err = check_memory(Some(1 << 40), Some(1 << 30), "the images", "use --size 64").unwrap_err();
/// assert!(err.to_string().contains("1024.0 GiB"));
/// ```
pub fn check_memory(
    bytes: Option<u64>,
    available: Option<u64>,
    what: &str,
    fix: &str,
) -> Result<()> {
    let gib = |b: u64| b as f64 / (1u64 << 30) as f64;
    match (bytes, available) {
        (None, _) => Err(FerriteError::invalid(
            "size",
            format!("{what} would need more bytes than can be counted; {fix}"),
        )),
        (Some(b), Some(free)) if b > free => Err(FerriteError::invalid(
            "size",
            format!(
                "{what} would need about {:.1} GiB but {:.1} GiB of memory is free; {fix}",
                gib(b),
                gib(free)
            ),
        )),
        _ => Ok(()),
    }
}
