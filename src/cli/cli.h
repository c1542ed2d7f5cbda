#include "disagree.h"
