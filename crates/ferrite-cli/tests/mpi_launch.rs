//! What `ferrite` does when an MPI launcher started it, in the build without the `mpi`
//! feature (the default): it refuses to train, since each process would train the whole
//! run alone and all would write the same folder. The launcher is imitated by the variables
//! Open MPI's `mpirun` sets; tests/mpirun.rs runs the real one with the feature.

mod support;
use support::ferrite;

fn as_rank(rank: &str, args: &[&str]) -> (bool, String) {
    let out = ferrite()
        .args(args)
        .env("OMPI_COMM_WORLD_SIZE", "2")
        .env("OMPI_COMM_WORLD_RANK", rank)
        .env("OMPI_COMM_WORLD_LOCAL_SIZE", "2")
        .output()
        .expect("run ferrite");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[cfg(not(feature = "mpi"))]
#[test]
fn a_build_without_mpi_refuses_to_train_under_mpirun() {
    let out = support::fresh_path("no-mpi");
    let (ok, stderr) = as_rank("1", &["train", "iris", "--out", out.to_str().unwrap()]);
    assert!(!ok);
    assert!(
        stderr.contains("built without MPI support")
            && stderr.contains("2 processes")
            && stderr.contains("--features mpi"),
        "{stderr}"
    );
    assert!(!out.exists(), "nothing is written");
}

#[test]
fn only_train_runs_under_an_mpi_launcher() {
    let (ok, stderr) = as_rank("0", &["examples"]);
    assert!(!ok);
    assert!(
        stderr.contains("only `ferrite train` and `ferrite bench` run across MPI ranks"),
        "{stderr}"
    );
}
