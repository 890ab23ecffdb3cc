//! `ferrite train mnist`: LeCun's MNIST, 28×28 grayscale images of the handwritten digits 0 to
//! 9, read from the standard IDX files. The same network and training as `fashion-mnist` (see
//! [`super::idx_classifier`]): Conv-BN-ReLU-Pool blocks on the 60,000 training images (a
//! stratified tenth held out to pick the best epoch), scored on the official 10,000 test
//! images, with the same run folder.
//!
//! No Debian package ships MNIST, so the default `--data` is a folder the user fills:
//! `~/.local/share/ferrite/mnist` (`$XDG_DATA_HOME/ferrite/mnist` when that is set), the
//! usual place for a user's application data on Linux, which works from any working
//! directory.

use super::idx_classifier::IdxExample;
use super::ExampleOptions;
use crate::classify::LrSchedule;
use std::path::PathBuf;

/// The classes in label order: the digits.
pub const CLASSES: [&str; 10] = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"];

/// The default `--data`: `$XDG_DATA_HOME/ferrite/mnist`, else `~/.local/share/ferrite/mnist`
/// (XDG's default for `$XDG_DATA_HOME`), or an error when neither variable is set.
pub fn default_data() -> anyhow::Result<PathBuf> {
    default_folder().ok_or_else(|| {
        anyhow::anyhow!(
            "MNIST's default folder is ~/.local/share/ferrite/mnist, but HOME is not set to an \
             absolute path: give the folder of the four files with --data DIR. {}",
            how_to_get()
        )
    })
}

/// The default folder, when `$XDG_DATA_HOME` or `$HOME` says where it is.
fn default_folder() -> Option<PathBuf> {
    // XDG says a relative value is invalid and is to be ignored.
    let from = |var: &str| {
        std::env::var_os(var)
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
    };
    from("XDG_DATA_HOME")
        .or_else(|| from("HOME").map(|h| h.join(".local").join("share")))
        .map(|d| d.join("ferrite").join("mnist"))
}

/// Where to get the four files and where to put them.
fn how_to_get() -> String {
    let default = default_folder().map_or_else(
        || "~/.local/share/ferrite/mnist".to_string(),
        |d| d.display().to_string(),
    );
    format!(
        "Download train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, \
         t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz from \
         https://ossci-datasets.s3.amazonaws.com/mnist/ (PyTorch's mirror; the original is \
         http://yann.lecun.com/exdb/mnist/) into {default}, the default folder, or into any \
         folder and give it with --data DIR"
    )
}

/// The example: the same network and training as `fashion-mnist`'s (Conv-BN-ReLU-Pool 32 and
/// 64, dropout 0.2, Linear 128, Adam at 1e-3 in batches of 64 with a cosine schedule over 20
/// epochs, 3 in the fast setting), without its flips.
const EXAMPLE: IdxExample = IdxExample {
    title: "MNIST",
    name: "mnist",
    classes: CLASSES,
    default_data,
    how_to_get,
    channels: &[32, 64],
    hidden: 128,
    epochs: (20, 3),
    batch_size: 64,
    lr: 1e-3,
    dropout: Some(0.2),
    schedule: LrSchedule::Cosine,
    // No flips: a mirrored digit is another shape (a mirrored 2 is no 2).
    augmentation: || None,
    label_smoothing: 0.0,
    flip_averaging: false,
};

/// Trains the network, prints its test accuracy and writes the run folder.
pub fn run(opts: &ExampleOptions) -> anyhow::Result<PathBuf> {
    EXAMPLE.run(opts)
}
