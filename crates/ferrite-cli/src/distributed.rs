//! `mpirun -np N ferrite train ...`: the ranks of an MPI job train one model data-parallel
//! (see `ferrite::distributed`). Rank 0 prints and writes the run folder; the other ranks
//! train silently and write nothing.

/// The rank, world size and ranks-on-this-host that an MPI launcher (Open MPI's `mpirun`,
/// or MPICH's Hydra) gives its processes, if this process was started by one.
struct Launch {
    rank: usize,
    world_size: usize,
    local_size: usize,
}

fn launch_from_env() -> Option<Launch> {
    let var = |name: &str| std::env::var(name).ok()?.trim().parse::<usize>().ok();
    let (rank, world_size) = match (var("OMPI_COMM_WORLD_RANK"), var("OMPI_COMM_WORLD_SIZE")) {
        (Some(r), Some(s)) => (r, s),
        _ => (var("PMI_RANK")?, var("PMI_SIZE")?),
    };
    let local_size = var("OMPI_COMM_WORLD_LOCAL_SIZE")
        .or_else(|| var("MPI_LOCALNRANKS"))
        .unwrap_or(world_size);
    Some(Launch {
        rank,
        world_size,
        local_size,
    })
}

/// This process's rank and the world size, once it has joined an MPI job of several ranks
/// (readable from any thread, unlike the library's per-thread default group).
static JOB: std::sync::OnceLock<(usize, usize)> = std::sync::OnceLock::new();

/// `(rank, world_size)` of the MPI job this process trains in, if any.
pub fn job() -> Option<(usize, usize)> {
    JOB.get().copied()
}

/// Joins the MPI job this process belongs to, if any, before any computation. `train` says
/// whether the command is one that runs across ranks (`train`, and `bench`'s distributed set).
pub fn join(train: bool) -> anyhow::Result<()> {
    let Some(launch) = launch_from_env() else {
        return Ok(());
    };
    if launch.world_size <= 1 {
        return Ok(());
    }
    if !train {
        anyhow::bail!(
            "only `ferrite train` and `ferrite bench` run across MPI ranks; run this command without mpirun"
        );
    }
    start(launch)
}

#[cfg(not(feature = "mpi"))]
fn start(launch: Launch) -> anyhow::Result<()> {
    anyhow::bail!(
        "this ferrite was built without MPI support, so each of the {} processes mpirun started \
         (this is rank {}) would train the whole run alone; build it with \
         `cargo build --release --features mpi` (which needs libopenmpi-dev and libclang-dev) \
         and run that binary under mpirun ({} of the ranks are on this host)",
        launch.world_size,
        launch.rank,
        launch.local_size
    )
}

#[cfg(feature = "mpi")]
fn start(launch: Launch) -> anyhow::Result<()> {
    // The ranks on one host share its cores: each takes its part, unless told otherwise.
    if std::env::var_os("FERRITE_NUM_THREADS").is_none() {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let threads = (cores / launch.local_size.max(1)).max(1);
        // Set before MPI or the thread pool starts any thread.
        std::env::set_var("FERRITE_NUM_THREADS", threads.to_string());
    }
    let comm = ferrite::distributed::MpiCommunicator::init()?;
    if comm.world_size() != launch.world_size || comm.rank() != launch.rank {
        anyhow::bail!(
            "MPI reports rank {} of {}, but the launcher said rank {} of {}: was this binary \
             built against another MPI library than the mpirun that started it?",
            comm.rank(),
            comm.world_size(),
            launch.rank,
            launch.world_size
        );
    }
    let _ = JOB.set((comm.rank(), comm.world_size()));
    ferrite::distributed::init_process_group(comm);
    Ok(())
}

#[cfg(feature = "mpi")]
use ferrite::distributed::Communicator as _;

/// Reports an error of this rank on stderr and ends the process. In an MPI job the whole job
/// is ended at once (MPI_Abort), so that no rank waits for this one.
pub fn fail(message: &str) -> ! {
    let world_size = ferrite::distributed::world_size();
    if world_size > 1 {
        let rank = ferrite::distributed::rank();
        std::eprintln!("error (rank {rank} of {world_size}): {message}");
        if let Some(group) = ferrite::distributed::default_group() {
            group.abort(1);
        }
    } else {
        std::eprintln!("error: {message}");
    }
    std::process::exit(1)
}
