// ops.h: every differentiable op, one include for modules and models.
#ifndef VP_OPS_H
#define VP_OPS_H

#include "ops/act.h"
#include "ops/attention.h"
#include "ops/conv.h"
#include "ops/elem.h"
#include "ops/embed.h"
#include "ops/linear.h"
#include "ops/norm.h"
#include "ops/pool.h"
#include "ops/reduce.h"
#include "ops/rotary.h"
#include "ops/shape.h"

#endif
