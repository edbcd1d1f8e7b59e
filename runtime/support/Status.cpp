// Status is header-only; this file anchors the runtime library so it has a
// translation unit of its own before any other source lands.
#include "runtime/support/Status.h"
