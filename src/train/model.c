// model.c: model.name -> the model's constructor (see model.h).
// Adding a model is one row in `models` and a constructor beside the model.
#include "train/model.h"

#include <stdlib.h>
#include <string.h>

#include "core/check.h"
#include "models/tiny_ddpm.h"

typedef struct model_entry {
  const char *name;
  vp_model *(*create)(const vp_config *cfg, const vp_source *src);
} model_entry;

static const model_entry models[] = {
    {"tiny_ddpm", tiny_ddpm_model_create},
};

vp_model *model_create(const vp_config *cfg, const vp_source *src) {
  const char *name = cfg_str(cfg, "model.name");
  const int n = (int)(sizeof models / sizeof models[0]);
  for (int i = 0; i < n; i++)
    if (strcmp(name, models[i].name) == 0) return models[i].create(cfg, src);
  char where[512], known[256] = "";
  for (int i = 0; i < n; i++) {
    strncat(known, i ? ", " : "", sizeof known - strlen(known) - 1);
    strncat(known, models[i].name, sizeof known - strlen(known) - 1);
  }
  vp_die("model.name = %s (%s): no such model in this build; the models are: %s", name,
         cfg_source(cfg, "model.name", where, sizeof where), known);
}

void model_free(vp_model *m) {
  if (!m) return;
  m->free(m);
  free(m);
}
