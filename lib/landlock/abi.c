#include "landlock/abi.h"

#include <errno.h>

#include "landlock_compat.h"

int landlock_abi_probe(void)
{
	int abi = landlock_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
	if (abi < 0)
		return errno == EOPNOTSUPP ? -EOPNOTSUPP : -ENOSYS;
	return abi;
}

const char *landlock_abi_unavailable_hint(int error)
{
	if (error == -EOPNOTSUPP)
		return "Landlock is supported by the kernel but disabled at boot; add \"landlock\" "
		       "to the lsm= kernel parameter (CONFIG_LSM) to enable it";
	return "the kernel was built without Landlock (CONFIG_SECURITY_LANDLOCK=y needs Linux "
	       "5.13 or newer)";
}
