// sevir.c: placeholder while the sevir reader is being written (replaced by it).
#include "core/check.h"
#include "io/source.h"

const vp_option opts_data_sevir[] = {OPT_END};

vp_source *sevir_source_open(const vp_config *cfg) {
  (void)cfg;
  vp_die("data.source = sevir is not available in this build yet");
}
