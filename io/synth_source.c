// synth_source.c: placeholder while the synth reader is being written (replaced by it).
#include "core/check.h"
#include "io/source.h"

const vp_option opts_data_synth[] = {OPT_END};

vp_source *synth_source_open(const vp_config *cfg) {
  (void)cfg;
  vp_die("data.source = synth is not available in this build yet");
}
