// System calls Swift's Glibc module does not expose.
#ifndef GANTRY_CSYSTEM_H
#define GANTRY_CSYSTEM_H

/// rename() that fails with EEXIST instead of replacing an existing target
/// (renameat2 with RENAME_NOREPLACE). Returns 0 or -1 with errno set.
int gantry_rename_noreplace(const char *from, const char *to);

/// Keeps blocks below `mmap_threshold` bytes in the heap and returns freed memory to the
/// system only beyond `trim_threshold` (glibc mallopt). Returns 1 when both were set.
int gantry_tune_allocator(int mmap_threshold, int trim_threshold);

#endif
