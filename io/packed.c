// packed.c: placeholder while the packed reader is being written (replaced by it).
#include "core/check.h"
#include "io/source.h"

const vp_option opts_data_packed[] = {OPT_END};

vp_source *packed_source_open(const vp_config *cfg) {
  (void)cfg;
  vp_die("data.source = packed is not available in this build yet");
}
