/* What Landlock the running kernel offers. */
#pragma once

/* The kernel's Landlock ABI version (1, 2, ...), or -ENOSYS when the kernel was built without
 * Landlock, or -EOPNOTSUPP when it was built with it but Landlock is not enabled at boot
 * (the "lsm=" kernel parameter). */
int landlock_abi_probe(void);

/* What to tell a user about a negative landlock_abi_probe() result. */
const char *landlock_abi_unavailable_hint(int error);
