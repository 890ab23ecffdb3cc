//! Data: loading tables, images and IDX files (MNIST), splitting, scaling, batching and windows over series.

mod augment;
mod class_weights;
mod csv;
mod dataset;
mod encode;
mod fingerprint;
mod idx;
mod image_decode;
mod image_folder;
mod image_labels;
mod image_stats;
mod images;
mod impute;
mod interpolate;
mod loader;
mod memory;
mod pipeline;
mod prefetch;
mod scale;
mod split;
mod window;

pub use self::csv::{CsvOptions, CsvTable, MissingPolicy, MissingReport, TargetKind};
pub use augment::{Augmentation, Augmented};
pub use class_weights::balanced_class_weights;
pub use dataset::{Dataset, TensorDataset};
pub use encode::{one_hot, LabelEncoder};
pub use fingerprint::Fingerprint;
pub use idx::{mnist_images, mnist_labels, mnist_pair, read_idx, IdxArray, IdxData};
pub use image_decode::{any_color_image, is_color_image};
pub use image_folder::ImageFolder;
pub use image_stats::ChannelStats;
pub use images::{ColorMode, ImageList, ImageOptions, ImageSet};
pub use impute::{FillStrategy, Imputer};
pub use interpolate::interpolate_linear;
pub use loader::{Batches, DataLoader};
pub use memory::{available_memory, check_memory};
pub use pipeline::{CsvDialect, TabularOptions, TabularPipeline, TabularSplit, TabularTask};
pub use scale::{MinMaxScaler, StandardScaler};
pub use split::{NestedSplit, SplitIndices, TrainTestSplit};
pub use window::{
    chronological_split, prepare_forecast, rolling_forecast, ForecastData, SlidingWindow, Windows,
};
