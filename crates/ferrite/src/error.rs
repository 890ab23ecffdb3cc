//! The error type for everything that reads user input: files, data, options, model files.

use std::path::PathBuf;

/// What went wrong, where, and (in the message) what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum FerriteError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The system's reason.
        #[source]
        source: std::io::Error,
    },
    /// A data file is malformed at a known place (`path:line: message`, or `path: message`
    /// when the problem is not tied to a line).
    #[error("{}", display_data(path, *line, message))]
    Data {
        /// The file.
        path: PathBuf,
        /// 1-based line number (0 when not tied to a line).
        line: usize,
        /// What is wrong, naming the column where there is one.
        message: String,
    },
    /// An option or hyper-parameter has a value that cannot be used.
    #[error("invalid {name}: {message}")]
    InvalidArgument {
        /// The option's name.
        name: String,
        /// Why the value is rejected.
        message: String,
    },
    /// Tensors whose shapes do not fit what an operation needs.
    #[error("{op}: {message}")]
    Shape {
        /// The operation.
        op: String,
        /// The shapes involved.
        message: String,
    },
    /// A state dict that does not fit the model it is loaded into.
    #[error(
        "{}",
        crate::nn::describe_state_dict_mismatch(missing, unexpected, mismatched)
    )]
    StateDict {
        /// Keys the model has and the state dict lacks.
        missing: Vec<String>,
        /// Keys the state dict has and the model lacks.
        unexpected: Vec<String>,
        /// `(key, shape in the state dict, shape in the model)` for keys whose shapes differ.
        mismatched: Vec<(String, Vec<usize>, Vec<usize>)>,
    },
    /// Training diverged: a batch loss became NaN or infinite, so training stopped before the
    /// optimizer applied that step (the model keeps the weights it had before it).
    #[error(
        "training diverged at epoch {epoch}, batch {batch}: the loss became {value} (the gradients \
         exploded or a value overflowed); try a smaller learning rate, gradient clipping, or \
         scaling the inputs"
    )]
    Diverged {
        /// The epoch (1-based).
        epoch: usize,
        /// The batch within the epoch (1-based).
        batch: usize,
        /// The loss value seen.
        value: f32,
        /// The epochs completed before it.
        history: Box<crate::train::History>,
    },
    /// A model file is unreadable, corrupt or does not match the model.
    #[error("model file {path}: {message}")]
    Model {
        /// The file.
        path: PathBuf,
        /// What is wrong, naming the offending keys.
        message: String,
    },
    /// A collective operation between the processes of a distributed run failed: another
    /// rank stopped answering, or the ranks disagree on what to do.
    #[error("distributed training, rank {rank} of {world_size}: {message}")]
    Distributed {
        /// This process's rank.
        rank: usize,
        /// The number of processes.
        world_size: usize,
        /// What went wrong, and what to do.
        message: String,
    },
}

/// `path:line: message`, or `path: message` for line 0 (a whole file: an image, a folder).
fn display_data(path: &std::path::Path, line: usize, message: &str) -> String {
    if line == 0 {
        format!("{}: {message}", path.display())
    } else {
        format!("{}:{line}: {message}", path.display())
    }
}

impl FerriteError {
    /// An `InvalidArgument` error.
    pub fn invalid(name: impl Into<String>, message: impl Into<String>) -> Self {
        FerriteError::InvalidArgument {
            name: name.into(),
            message: message.into(),
        }
    }
}

/// `Result` with [`FerriteError`].
pub type Result<T> = std::result::Result<T, FerriteError>;
