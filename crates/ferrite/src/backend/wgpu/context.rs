//! One wgpu adapter opened as a device: its queue, the compiled kernels, a pool of buffers
//! and the list of commands recorded since the last submission.
//!
//! Commands are not submitted one by one. Each kernel launch is recorded with its
//! parameters, and the whole list goes to the GPU in one command encoder when the host needs
//! data back (a read-back), when data comes from the host, or when the list is long. A
//! training step is therefore one submission, and its small parameter blocks travel in one
//! buffer. Buffers return to the pool only after the commands that use them were submitted,
//! and the queue runs submissions in order, so a reused buffer is never written while an
//! earlier command still reads it.

use crate::backend::{BackendError, BackendResult};
use crate::core::Device;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

/// Threads per workgroup of the one-dimensional kernels (the prelude's `WORKGROUP`).
pub(crate) const WORKGROUP: u32 = 256;
/// Most workgroups along one grid dimension (WebGPU's guaranteed limit).
const MAX_GROUPS_PER_DIM: u32 = 65535;
/// Launches recorded before the list is submitted without waiting for a read-back.
const MAX_PENDING: usize = 512;

/// A GPU buffer of the pool. Dropping it hands the buffer back to the pool of its device.
pub(crate) struct GpuBuffer {
    buffer: Option<wgpu::Buffer>,
    /// Bytes the buffer holds (its pool size class).
    pub(crate) size: u64,
    pub(crate) ctx: &'static Context,
}

impl GpuBuffer {
    pub(crate) fn raw(&self) -> &wgpu::Buffer {
        // Present until drop.
        self.buffer.as_ref().expect("a live buffer")
    }
}

impl Drop for GpuBuffer {
    fn drop(&mut self) {
        if let Some(buffer) = self.buffer.take() {
            self.ctx.release(buffer, self.size);
        }
    }
}

impl std::fmt::Debug for GpuBuffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "GpuBuffer({} bytes on {})", self.size, self.ctx.device())
    }
}

/// One recorded command.
enum Command {
    Launch {
        pipeline: Arc<wgpu::ComputePipeline>,
        buffers: Vec<Arc<GpuBuffer>>,
        /// Where this launch's parameters start in the parameter block, in bytes.
        meta_offset: u64,
        meta_bytes: u64,
        groups: (u32, u32, u32),
    },
    Copy {
        src: Arc<GpuBuffer>,
        src_offset: u64,
        dst: Arc<GpuBuffer>,
        dst_offset: u64,
        bytes: u64,
    },
}

#[derive(Default)]
struct Pending {
    commands: Vec<Command>,
    /// Every recorded launch's parameters, each at an offset the device can bind.
    meta: Vec<u32>,
}

/// A kernel to launch: its source (built once per key) and the buffers it binds after the
/// parameter block, in binding order.
pub(crate) struct Launch<'a> {
    /// Names the compiled pipeline: one per kernel and element type.
    pub key: &'a str,
    /// The WGSL source, asked for only the first time `key` is seen.
    pub source: &'a dyn Fn() -> String,
    /// Buffers at bindings 1, 2, … .
    pub buffers: &'a [&'a Arc<GpuBuffer>],
    /// The parameter block at binding 0 (`params` in the prelude).
    pub meta: &'a [u32],
    /// Threads to run, spread over workgroups of [`WORKGROUP`] threads.
    pub threads: u32,
}

/// An opened adapter.
pub(crate) struct Context {
    pub(crate) index: usize,
    pub(crate) info: wgpu::AdapterInfo,
    device: wgpu::Device,
    queue: wgpu::Queue,
    pub(crate) features: wgpu::Features,
    limits: wgpu::Limits,
    pipelines: Mutex<HashMap<String, Arc<wgpu::ComputePipeline>>>,
    pool: Mutex<HashMap<u64, Vec<wgpu::Buffer>>>,
    pending: Mutex<Pending>,
    /// Held from taking the recorded commands to their submission (and through a read's own
    /// copy), so that submissions reach the queue in the order the commands were recorded,
    /// whichever threads record and read.
    submission: Mutex<()>,
}

/// The process's wgpu instance and its adapters, in the order [`adapters`] lists them.
struct Adapters {
    list: Vec<wgpu::Adapter>,
    opened: Vec<OnceLock<Result<&'static Context, String>>>,
}

fn instance_adapters() -> &'static Adapters {
    static ADAPTERS: OnceLock<Adapters> = OnceLock::new();
    ADAPTERS.get_or_init(|| {
        let descriptor = wgpu::InstanceDescriptor::new_without_display_handle_from_env();
        let backends = descriptor.backends;
        let instance = wgpu::Instance::new(descriptor);
        let list = pollster::block_on(instance.enumerate_adapters(backends));
        let opened = list.iter().map(|_| OnceLock::new()).collect();
        Adapters { list, opened }
    })
}

/// What a user needs to know about one adapter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GpuAdapter {
    /// Its number in `Device::Wgpu(index)` and `--device wgpu:index`.
    pub index: usize,
    /// The adapter's name, as the driver gives it.
    pub name: String,
    /// The graphics API wgpu reaches it through (Vulkan, Metal, DX12, GL).
    pub backend: String,
    /// Discrete, integrated, virtual or a CPU (software) adapter.
    pub device_type: String,
    /// Whether kernels can compute in f16 (`SHADER_F16`).
    pub shader_f16: bool,
    /// Whether kernels can compute in f64 (`SHADER_F64`), which float64 tensors need.
    pub shader_f64: bool,
}

/// Every adapter wgpu sees on this machine (`WGPU_BACKEND=vulkan` and the like restrict the
/// graphics APIs it looks through).
pub fn adapters() -> Vec<GpuAdapter> {
    instance_adapters()
        .list
        .iter()
        .enumerate()
        .map(|(index, a)| {
            let info = a.get_info();
            let features = a.features();
            GpuAdapter {
                index,
                name: info.name,
                backend: format!("{:?}", info.backend),
                device_type: format!("{:?}", info.device_type),
                shader_f16: features.contains(wgpu::Features::SHADER_F16),
                shader_f64: features.contains(wgpu::Features::SHADER_F64),
            }
        })
        .collect()
}

/// The message for a machine where wgpu finds no adapter (or not the one asked for).
pub(crate) fn no_adapter_message(index: usize, found: usize) -> String {
    if found > 0 {
        return format!(
            "wgpu:{index}: no such adapter: wgpu found {found}, wgpu:0 to wgpu:{}; `ferrite devices` lists them",
            found - 1
        );
    }
    format!(
        "wgpu:{index}: wgpu found no GPU adapter. Install the GPU's driver (with Vulkan, Metal or \
         DX12), or Mesa's software Vulkan driver for a slow CPU-backed adapter (Debian/Ubuntu: \
         apt-get install mesa-vulkan-drivers libvulkan1); `ferrite devices` lists what wgpu sees"
    )
}

/// The opened device for adapter `index`, opening it the first time.
pub(crate) fn context(index: usize) -> Result<&'static Context, String> {
    let adapters = instance_adapters();
    let Some(slot) = adapters.opened.get(index) else {
        return Err(no_adapter_message(index, adapters.list.len()));
    };
    slot.get_or_init(|| open(index, &adapters.list[index]))
        .clone()
}

/// The opened device, for a storage that already lives there (so it was opened).
pub(crate) fn expect_context(index: usize) -> &'static Context {
    match context(index) {
        Ok(ctx) => ctx,
        Err(message) => panic!("{message}"),
    }
}

fn open(index: usize, adapter: &wgpu::Adapter) -> Result<&'static Context, String> {
    let wanted = wgpu::Features::SHADER_F16 | wgpu::Features::SHADER_F64 | wgpu::Features::SUBGROUP;
    let features = adapter.features() & wanted;
    let limits = adapter.limits();
    let descriptor = wgpu::DeviceDescriptor {
        label: Some("ferrite"),
        required_features: features,
        required_limits: limits.clone(),
        experimental_features: wgpu::ExperimentalFeatures::disabled(),
        memory_hints: wgpu::MemoryHints::Performance,
        trace: wgpu::Trace::Off,
    };
    let info = adapter.get_info();
    let (device, queue) = pollster::block_on(adapter.request_device(&descriptor)).map_err(|e| {
        format!(
            "wgpu:{index} ({}): could not open the device: {e}",
            info.name
        )
    })?;
    let ctx = Context {
        index,
        info,
        device,
        queue,
        features,
        limits,
        pipelines: Mutex::new(HashMap::new()),
        pool: Mutex::new(HashMap::new()),
        pending: Mutex::new(Pending::default()),
        submission: Mutex::new(()),
    };
    // One context per adapter for the life of the process: buffers point back to it.
    Ok(Box::leak(Box::new(ctx)))
}

/// The pool's size class for `bytes`: powers of two up to 1 MiB, then whole MiB, so that
/// steps of one model reuse the same buffers.
fn size_class(bytes: u64) -> u64 {
    let bytes = bytes.max(16);
    if bytes <= 1 << 20 {
        bytes.next_power_of_two()
    } else {
        bytes.div_ceil(1 << 20) << 20
    }
}

impl Context {
    /// This adapter as a [`Device`].
    pub(crate) fn device(&self) -> Device {
        Device::Wgpu(self.index)
    }

    /// Whether kernels may use f64.
    pub(crate) fn has_f64(&self) -> bool {
        self.features.contains(wgpu::Features::SHADER_F64)
    }

    /// A buffer of at least `bytes` bytes, from the pool when one is free. Its contents are
    /// whatever it held last.
    pub(crate) fn alloc(&'static self, bytes: u64) -> BackendResult<Arc<GpuBuffer>> {
        let size = size_class(bytes);
        let max = self
            .limits
            .max_storage_buffer_binding_size
            .min(self.limits.max_buffer_size);
        if size > max {
            return Err(BackendError::OutOfMemory {
                device: self.device(),
                bytes: bytes as usize,
            });
        }
        let reused = self
            .pool
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_mut(&size)
            .and_then(Vec::pop);
        let buffer = match reused {
            Some(b) => b,
            None => {
                let scope = self.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
                let b = self.device.create_buffer(&wgpu::BufferDescriptor {
                    label: None,
                    size,
                    usage: wgpu::BufferUsages::STORAGE
                        | wgpu::BufferUsages::COPY_SRC
                        | wgpu::BufferUsages::COPY_DST,
                    mapped_at_creation: false,
                });
                if pollster::block_on(scope.pop()).is_some() {
                    return Err(BackendError::OutOfMemory {
                        device: self.device(),
                        bytes: bytes as usize,
                    });
                }
                b
            }
        };
        Ok(Arc::new(GpuBuffer {
            buffer: Some(buffer),
            size,
            ctx: self,
        }))
    }

    fn release(&self, buffer: wgpu::Buffer, size: u64) {
        self.pool
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(size)
            .or_default()
            .push(buffer);
    }

    /// A buffer holding `data`. The write reaches the queue ahead of the next submission, so
    /// before every command that can use the new buffer; and a pooled buffer is reused only
    /// after the submission of its last commands, so the write never overtakes them.
    pub(crate) fn upload(&'static self, data: &[u8]) -> BackendResult<Arc<GpuBuffer>> {
        let buffer = self.alloc(data.len() as u64)?;
        if !data.is_empty() {
            // write_buffer wants a multiple of 4 bytes.
            if data.len().is_multiple_of(4) {
                self.queue.write_buffer(buffer.raw(), 0, data);
            } else {
                let mut padded = data.to_vec();
                padded.resize(data.len().next_multiple_of(4), 0);
                self.queue.write_buffer(buffer.raw(), 0, &padded);
            }
        }
        Ok(buffer)
    }

    fn pipeline(&self, key: &str, source: &dyn Fn() -> String) -> Arc<wgpu::ComputePipeline> {
        let mut pipelines = self.pipelines.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(p) = pipelines.get(key) {
            return p.clone();
        }
        let text = source();
        // For kernel development: FERRITE_WGSL_DUMP=<folder> keeps each kernel's source.
        if let Some(dir) = std::env::var_os("FERRITE_WGSL_DUMP") {
            let _ = std::fs::write(
                std::path::Path::new(&dir).join(format!("{key}.wgsl")),
                &text,
            );
        }
        let module = self
            .device
            .create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some(key),
                source: wgpu::ShaderSource::Wgsl(text.into()),
            });
        let pipeline = Arc::new(self.device.create_compute_pipeline(
            &wgpu::ComputePipelineDescriptor {
                label: Some(key),
                layout: None,
                module: &module,
                entry_point: Some("main"),
                compilation_options: Default::default(),
                cache: None,
            },
        ));
        pipelines.insert(key.to_string(), pipeline.clone());
        pipeline
    }

    /// Records one kernel launch.
    pub(crate) fn launch(&'static self, launch: Launch<'_>) {
        if launch.threads == 0 {
            return;
        }
        let groups = launch.threads.div_ceil(WORKGROUP);
        let (x, y) = if groups <= MAX_GROUPS_PER_DIM {
            (groups, 1)
        } else {
            (MAX_GROUPS_PER_DIM, groups.div_ceil(MAX_GROUPS_PER_DIM))
        };
        self.launch_groups(launch, (x, y, 1));
    }

    /// Records one kernel launch over an explicit grid of workgroups.
    pub(crate) fn launch_groups(&'static self, launch: Launch<'_>, groups: (u32, u32, u32)) {
        if groups.0 == 0 || groups.1 == 0 || groups.2 == 0 {
            return;
        }
        let pipeline = self.pipeline(launch.key, launch.source);
        let align = (self.limits.min_storage_buffer_offset_alignment as usize / 4).max(1);
        let full = {
            let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            let start = pending.meta.len().next_multiple_of(align);
            pending.meta.resize(start, 0);
            pending.meta.extend_from_slice(launch.meta);
            if launch.meta.is_empty() {
                pending.meta.push(0);
            }
            let meta_bytes = (pending.meta.len() - start) as u64 * 4;
            pending.commands.push(Command::Launch {
                pipeline,
                buffers: launch.buffers.iter().map(|b| Arc::clone(b)).collect(),
                meta_offset: start as u64 * 4,
                meta_bytes,
                groups,
            });
            pending.commands.len() >= MAX_PENDING
        };
        if full {
            self.flush();
        }
    }

    /// Records a copy of `bytes` bytes between buffers (offsets and size multiples of 4).
    pub(crate) fn copy(
        &'static self,
        src: &Arc<GpuBuffer>,
        src_offset: u64,
        dst: &Arc<GpuBuffer>,
        dst_offset: u64,
        bytes: u64,
    ) {
        if bytes == 0 {
            return;
        }
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        pending.commands.push(Command::Copy {
            src: src.clone(),
            src_offset,
            dst: dst.clone(),
            dst_offset,
            bytes,
        });
    }

    /// Submits everything recorded, in one command encoder.
    pub(crate) fn flush(&self) {
        let _order = self.submission.lock().unwrap_or_else(|e| e.into_inner());
        self.flush_in_order();
    }

    /// [`Context::flush`], for a caller that holds the submission lock.
    fn flush_in_order(&self) {
        let Pending { commands, meta } =
            std::mem::take(&mut *self.pending.lock().unwrap_or_else(|e| e.into_inner()));
        if commands.is_empty() {
            return;
        }
        let meta_buffer = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("ferrite parameters"),
            size: (meta.len().max(4) * 4) as u64,
            usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        self.queue
            .write_buffer(&meta_buffer, 0, bytemuck::cast_slice(&meta));
        let mut encoder = self
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: None });
        for command in &commands {
            match command {
                Command::Launch {
                    pipeline,
                    buffers,
                    meta_offset,
                    meta_bytes,
                    groups,
                } => {
                    let mut entries = vec![wgpu::BindGroupEntry {
                        binding: 0,
                        resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                            buffer: &meta_buffer,
                            offset: *meta_offset,
                            size: wgpu::BufferSize::new(*meta_bytes),
                        }),
                    }];
                    for (i, b) in buffers.iter().enumerate() {
                        entries.push(wgpu::BindGroupEntry {
                            binding: i as u32 + 1,
                            resource: b.raw().as_entire_binding(),
                        });
                    }
                    let bind_group = self.device.create_bind_group(&wgpu::BindGroupDescriptor {
                        label: None,
                        layout: &pipeline.get_bind_group_layout(0),
                        entries: &entries,
                    });
                    let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor {
                        label: None,
                        timestamp_writes: None,
                    });
                    pass.set_pipeline(pipeline);
                    pass.set_bind_group(0, &bind_group, &[]);
                    pass.dispatch_workgroups(groups.0, groups.1, groups.2);
                }
                Command::Copy {
                    src,
                    src_offset,
                    dst,
                    dst_offset,
                    bytes,
                } => {
                    encoder.copy_buffer_to_buffer(
                        src.raw(),
                        *src_offset,
                        dst.raw(),
                        *dst_offset,
                        *bytes,
                    );
                }
            }
        }
        self.queue.submit([encoder.finish()]);
        // The buffers in `commands` go back to the pool here, after their submission.
        drop(commands);
    }

    /// Submits everything recorded and waits until the device has run it (for timing).
    pub(crate) fn synchronize(&self) -> BackendResult<()> {
        self.flush();
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map(|_| ())
            .map_err(|e| BackendError::DeviceLost {
                device: self.device(),
                message: e.to_string(),
            })
    }

    /// The first `bytes` bytes of `buffer`, after everything recorded has run.
    pub(crate) fn read(&self, buffer: &GpuBuffer, bytes: u64) -> BackendResult<Vec<u8>> {
        if bytes == 0 {
            self.flush();
            return Ok(Vec::new());
        }
        let order = self.submission.lock().unwrap_or_else(|e| e.into_inner());
        self.flush_in_order();
        let padded = bytes.next_multiple_of(4);
        let staging = self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("ferrite read-back"),
            size: padded,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut encoder = self
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: None });
        encoder.copy_buffer_to_buffer(buffer.raw(), 0, &staging, 0, padded);
        self.queue.submit([encoder.finish()]);
        drop(order);
        let slice = staging.slice(..);
        let (sender, receiver) = std::sync::mpsc::channel();
        slice.map_async(wgpu::MapMode::Read, move |r| {
            let _ = sender.send(r);
        });
        let lost = |message: String| BackendError::DeviceLost {
            device: self.device(),
            message,
        };
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| lost(e.to_string()))?;
        match receiver.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(lost(e.to_string())),
            Err(e) => return Err(lost(e.to_string())),
        }
        let data = slice
            .get_mapped_range()
            .map_err(|e| lost(e.to_string()))?
            .to_vec();
        staging.unmap();
        Ok(data[..bytes as usize].to_vec())
    }
}
