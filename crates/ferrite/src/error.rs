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
    /// A data file is malformed at a known place.
    #[error("{path}:{line}: {message}")]
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
    /// A model file is unreadable, corrupt or does not match the model.
    #[error("model file {path}: {message}")]
    Model {
        /// The file.
        path: PathBuf,
        /// What is wrong, naming the offending keys.
        message: String,
    },
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
