// era5.c: placeholder while the era5 reader is being written (replaced by it).
#include "core/check.h"
#include "io/source.h"

const vp_option opts_data_era5[] = {OPT_END};

vp_source *era5_source_open(const vp_config *cfg) {
  (void)cfg;
  vp_die("data.source = era5 is not available in this build yet");
}
