/* placeholder: being written */
#include "pal_win32.h"
