/* What one `cpuid` instruction costs here: a virtual machine traps it to its hypervisor.
 * zstd runs it each time it makes a compression or decompression context (BENCHMARKS.md,
 * "What a day's file costs, and cpuid").
 * Usage: cc -O2 benches/cpuid.c -o /tmp/cpuid && /tmp/cpuid */
#include <cpuid.h>
#include <stdio.h>
#include <time.h>

int main(void) {
    const int n = 20000;
    unsigned a, b, c, d, sink = 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int i = 0; i < n; i++) {
        __cpuid_count(7, 0, a, b, c, d);
        sink ^= b;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ns = (t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec);
    printf("%.2f µs per cpuid\n", ns / n / 1000.0);
    return (int)(sink & 0);
}
