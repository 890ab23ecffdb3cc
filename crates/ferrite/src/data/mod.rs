//! Data: loading tables and images, splitting, scaling, batching and windows over series.
