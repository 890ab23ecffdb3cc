/* The reference for `ferrite bench`'s allreduce_4mib under mpirun: MPI_Allreduce (sum) of
 * the same 4 MiB of floats, straight from C, timed the same way (5 warm-ups, median of 31).
 * Build and run: mpicc -O2 -o /tmp/allreduce_ref tools/mpi_allreduce_reference.c
 *                mpirun -np 2 /tmp/allreduce_ref
 * (tools/bench_distributed.sh does both.) */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>

static int compare(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  int rank;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  const int n = (4 << 20) / 4, warmup = 5, repeat = 31;
  float *send = malloc(n * sizeof(float)), *recv = malloc(n * sizeof(float));
  for (int i = 0; i < n; i++) send[i] = (float)(i % 97) * 0.01f;
  double times[31];
  for (int k = 0; k < warmup + repeat; k++) {
    MPI_Barrier(MPI_COMM_WORLD);
    double t = MPI_Wtime();
    MPI_Allreduce(send, recv, n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    if (k >= warmup) times[k - warmup] = MPI_Wtime() - t;
  }
  qsort(times, repeat, sizeof(double), compare);
  if (rank == 0) {
    double s = times[repeat / 2];
    printf("{\"workload\": \"allreduce_4mib_c\", \"median_s\": %.6f, \"rate\": %.1f, \"unit\": \"GB/s\"}\n",
           s, n * 4.0 / 1e9 / s);
  }
  free(send);
  free(recv);
  MPI_Finalize();
  return 0;
}
