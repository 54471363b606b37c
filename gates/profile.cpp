// Placeholder so the library links before the gates land.
#include "gates/profile.h"
