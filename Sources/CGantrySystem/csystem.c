#define _GNU_SOURCE
#include "csystem.h"

#include <fcntl.h>
#include <malloc.h>
#include <stdio.h>

int gantry_rename_noreplace(const char *from, const char *to) {
    return renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE);
}

int gantry_tune_allocator(int mmap_threshold, int trim_threshold) {
    return mallopt(M_MMAP_THRESHOLD, mmap_threshold) == 1 && mallopt(M_TRIM_THRESHOLD, trim_threshold) == 1;
}
