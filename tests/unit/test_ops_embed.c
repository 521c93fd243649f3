// test_ops_embed.c: sinusoidal timestep embeddings against PyTorch goldens
// (tools/golden/g_embed.py), closed-form values and bad-input errors.
#include <math.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "golden.h"
#include "harness.h"
#include "ops/embed.h"

static int dies(void (*fn)(void *), void *arg) {
  fflush(NULL);
  pid_t pid = fork();
  if (pid < 0) return 0;
  if (pid == 0) {
    if (!freopen("/dev/null", "w", stderr)) _exit(0);
    fn(arg);
    _exit(0);
  }
  int st = 0;
  if (waitpid(pid, &st, 0) < 0) return 0;
  return WIFEXITED(st) && WEXITSTATUS(st) != 0;
}

typedef struct {
  int dim;
  vp_emb_order order;
  double max_period;
} emb_arg;

static vp_tensor *f_emb(vp_ctx *c, vp_tensor **in, void *arg) {
  emb_arg *a = arg;
  return op_timestep_embedding(c, in[0]->data, tensor_numel(in[0]), a->dim, a->order, a->max_period);
}

static void golden_case(golden *g, const char *cas) {
  emb_arg a;
  a.dim = (int)golden_attr_int(g, cas, "dim");
  a.order = (vp_emb_order)golden_attr_int(g, cas, "order");
  a.max_period = golden_attr_double(g, cas, "max_period");
  const char *names[] = {"t"};
  golden_run_case(g, cas, f_emb, &a, names, 1, 1e-5, 1e-4);
}

static void bad_dim(void *arg) {
  (void)arg;
  vp_ctx c;
  ctx_init(&c, 1 << 16);
  float t = 1.f;
  op_timestep_embedding(&c, &t, 1, 0, VP_EMB_COS_SIN, 10000.0);
}
static void bad_period(void *arg) {
  (void)arg;
  vp_ctx c;
  ctx_init(&c, 1 << 16);
  float t = 1.f;
  op_timestep_embedding(&c, &t, 1, 8, VP_EMB_COS_SIN, 0.0);
}

int main(void) {
  golden *g = golden_open("embed");
  const char *cases[] = {"cos_sin", "sin_cos", "cos_sin_odd", "sin_cos_odd_period", "integer_t", "dim1"};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) golden_case(g, cases[i]);
  golden_close(g);

  // Closed form: t = 0 gives cos = 1, sin = 0; column k of t = 1 is cos(freq_k);
  // the two orders hold the same halves swapped; no tape node is recorded.
  vp_ctx ctx;
  ctx_init(&ctx, 1 << 20);
  ctx_set_training(&ctx, 1);
  float t[2] = {0.f, 1.f};
  vp_tensor *a = op_timestep_embedding(&ctx, t, 2, 9, VP_EMB_COS_SIN, 10000.0);
  vp_tensor *b = op_timestep_embedding(&ctx, t, 2, 9, VP_EMB_SIN_COS, 10000.0);
  th_check(a->ndim == 2 && a->shape[0] == 2 && a->shape[1] == 9, "embedding shape");
  int ok = 1;
  for (int k = 0; k < 4; k++) {
    ok &= a->data[k] == 1.f && a->data[4 + k] == 0.f;
    double want = cos(exp(-log(10000.0) * k / 4.0));
    ok &= fabs(a->data[9 + k] - want) < 1e-7;
    ok &= b->data[9 + k] == a->data[9 + 4 + k] && b->data[9 + 4 + k] == a->data[9 + k];
  }
  ok &= a->data[8] == 0.f && a->data[17] == 0.f && b->data[17] == 0.f;
  th_check(ok, "embedding closed-form values");
  th_check(ctx.tape->n == 0 && !a->requires_grad, "embedding recorded a tape node");
  ctx_free(&ctx);

  th_check(dies(bad_dim, NULL), "timestep_embedding: dim 0 was accepted");
  th_check(dies(bad_period, NULL), "timestep_embedding: max_period 0 was accepted");
  return th_summary();
}
