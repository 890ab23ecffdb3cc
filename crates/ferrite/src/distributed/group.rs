//! The default process group of this thread (PyTorch's `dist.init_process_group`), which
//! [`fit`](crate::train::fit) and the checkpoint callback read.

use std::cell::RefCell;
use std::rc::Rc;

use super::Communicator;

thread_local! {
    // Per thread, so that the ranks of a ThreadGroup can live in one process; an MPI job
    // calls collectives from its main thread only.
    static GROUP: RefCell<Option<Rc<dyn Communicator>>> = const { RefCell::new(None) };
}

/// Makes `comm` this thread's default group: from now on [`fit`](crate::train::fit) trains
/// data-parallel across its ranks. Replaces any earlier group.
pub fn init_process_group(comm: impl Communicator + 'static) -> Rc<dyn Communicator> {
    let comm: Rc<dyn Communicator> = Rc::new(comm);
    GROUP.with(|g| *g.borrow_mut() = Some(comm.clone()));
    comm
}

/// Forgets this thread's default group (PyTorch's `dist.destroy_process_group`); the
/// communicator itself lives on while others hold it.
pub fn destroy_process_group() {
    GROUP.with(|g| *g.borrow_mut() = None);
}

/// This thread's default group, if [`init_process_group`] set one.
pub fn default_group() -> Option<Rc<dyn Communicator>> {
    GROUP.with(|g| g.borrow().clone())
}

/// This process's rank in the default group (0 without one).
pub fn rank() -> usize {
    default_group().map_or(0, |g| g.rank())
}

/// The number of ranks in the default group (1 without one).
pub fn world_size() -> usize {
    default_group().map_or(1, |g| g.world_size())
}

/// True on rank 0, the rank that prints and writes files (also true without a group).
pub fn is_primary() -> bool {
    rank() == 0
}
