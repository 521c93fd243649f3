// tiny_ddpm.c: the small conditional DDPM denoiser (see tiny_ddpm.h).
#include "models/tiny_ddpm.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/check.h"
#include "diffusion/ddim.h"
#include "diffusion/ddpm_loss.h"
#include "nn/name.h"
#include "ops/ops.h"
#include "train/model.h"

const vp_option opts_model_tiny_ddpm[] = {
    {.key = "model.tiny_ddpm.context_frames", .type = OPT_INT, .def = "2", .range = "[1, 64]",
     .help = "tiny_ddpm: condition frames; the clip's remaining frames are predicted"},
    {.key = "model.tiny_ddpm.num_res_blocks", .type = OPT_INT, .def = "1", .range = "[1, 4]",
     .help = "tiny_ddpm: ResBlocks per level (ADM num_res_blocks)"},
    {.key = "model.tiny_ddpm.attn_levels", .type = OPT_INT_LIST, .def = "[1]", .range = "[0, 3]",
     .help = "tiny_ddpm: levels (0 = full resolution) with attention blocks; the middle block always has one"},
    {.key = "model.tiny_ddpm.heads", .type = OPT_INT, .def = "4", .range = "[1, 64]",
     .help = "tiny_ddpm: attention heads"},
    {.key = "model.tiny_ddpm.groups", .type = OPT_INT, .def = "8", .range = "[1, 64]",
     .help = "tiny_ddpm: GroupNorm groups (ADM uses 32)"},
    {.key = "model.tiny_ddpm.residual", .type = OPT_BOOL, .def = "false",
     .help = "tiny_ddpm: diffuse the change from the last context frame (RVD's residual, mu = last frame)"},
    {.key = "model.tiny_ddpm.precond", .type = OPT_ENUM, .def = "none", .choices = "none|edm",
     .help = "tiny_ddpm: eps_hat = UNet (ADM), or EDM's preconditioning around the UNet"},
    {.key = "model.tiny_ddpm.sigma_data", .type = OPT_FLOAT, .def = "0.5", .range = "(0, 10]",
     .help = "tiny_ddpm: EDM's sigma_data, the std of the diffused target (frames ~0.5, residuals ~0.2)"},
    OPT_END,
};

// ---------------------------------------------------------------- structure
static void check_channels(const tiny_ddpm_cfg *c, int64_t ch, const char *what) {
  if (ch % c->groups != 0)
    vp_die("tiny_ddpm: %s has %lld channels, not divisible into %d GroupNorm groups; choose model.channels "
           "and model.tiny_ddpm.groups to fit", what, (long long)ch, c->groups);
}

int tiny_ddpm_size_multiple(const tiny_ddpm_cfg *cfg) { return 1 << (cfg->nlevels - 1); }

void tiny_ddpm_declare(tiny_ddpm *m, vp_params *p, tiny_ddpm_cfg cfg) {
  memset(m, 0, sizeof(*m));
  m->cfg = cfg;
  if (cfg.nlevels < 1 || cfg.nlevels > TINY_DDPM_MAX_LEVELS)
    vp_die("tiny_ddpm: %d levels (model.channel_mult); 1 to %d are supported", cfg.nlevels, TINY_DDPM_MAX_LEVELS);
  if (cfg.num_res_blocks < 1 || cfg.num_res_blocks > TINY_DDPM_MAX_RES)
    vp_die("tiny_ddpm: num_res_blocks = %d; 1 to %d are supported", cfg.num_res_blocks, TINY_DDPM_MAX_RES);
  VP_ASSERT(cfg.ctx_frames >= 1 && cfg.fut_frames >= 1 && cfg.channels >= 1 && cfg.width >= 1);
  VP_ASSERT(cfg.groups >= 1 && cfg.heads >= 1);
  const int64_t Wd = cfg.width, E = 4 * Wd, G = cfg.groups;
  const int64_t cin = (int64_t)(cfg.fut_frames + cfg.ctx_frames) * cfg.channels;
  char s[NN_NAME_MAX];
  nn_linear_declare(&m->emb0, p, "time_embed.0", Wd, E, NN_BIAS);
  nn_linear_declare(&m->emb1, p, "time_embed.2", E, E, NN_BIAS);
  nn_conv2d_declare(&m->in_conv, p, "input_blocks.0.0", cin, Wd, 3, 1, 1, NN_BIAS);

  int64_t ch = Wd;
  int k = 0;
  m->in_ch[0] = ch;
  for (int l = 0; l < cfg.nlevels; l++) {
    const int64_t co = Wd * cfg.mult[l];
    const int attn = (cfg.attn_levels >> l) & 1;
    check_channels(&cfg, co, "a level");
    for (int r = 0; r < cfg.num_res_blocks; r++) {
      tiny_ddpm_block *b = &m->in[k++];
      resblock_declare(&b->res, p, nn_name(s, "input_blocks.%d.0", k), ch, co, E, (int)G, 1, RESBLOCK_SAME);
      ch = co;
      if (attn) {
        if (ch % cfg.heads != 0)
          vp_die("tiny_ddpm: %lld channels at level %d do not split into %d heads (model.tiny_ddpm.heads)",
                 (long long)ch, l, cfg.heads);
        b->has_attn = 1;
        attn_block_declare(&b->attn, p, nn_name(s, "input_blocks.%d.1", k), ch, cfg.heads, (int)G);
      }
      m->in_ch[k] = ch;
    }
    if (l != cfg.nlevels - 1) {
      tiny_ddpm_block *b = &m->in[k++];
      resblock_declare(&b->res, p, nn_name(s, "input_blocks.%d.0", k), ch, ch, E, (int)G, 1, RESBLOCK_DOWN);
      m->in_ch[k] = ch;
    }
  }
  m->nin = k;
  if (ch % cfg.heads != 0)
    vp_die("tiny_ddpm: %lld channels in the middle block do not split into %d heads (model.tiny_ddpm.heads)",
           (long long)ch, cfg.heads);
  resblock_declare(&m->mid0, p, "middle_block.0", ch, ch, E, (int)G, 1, RESBLOCK_SAME);
  attn_block_declare(&m->mid1, p, "middle_block.1", ch, cfg.heads, (int)G);
  resblock_declare(&m->mid2, p, "middle_block.2", ch, ch, E, (int)G, 1, RESBLOCK_SAME);

  int o = 0;
  for (int l = cfg.nlevels - 1; l >= 0; l--) {
    const int64_t co = Wd * cfg.mult[l];
    const int attn = (cfg.attn_levels >> l) & 1;
    for (int i = 0; i <= cfg.num_res_blocks; i++) {
      tiny_ddpm_block *b = &m->out[o];
      const int64_t cat = ch + m->in_ch[k--];
      check_channels(&cfg, cat, "a skip concatenation");
      resblock_declare(&b->res, p, nn_name(s, "output_blocks.%d.0", o), cat, co, E, (int)G, 1, RESBLOCK_SAME);
      ch = co;
      int idx = 1;
      if (attn) {
        b->has_attn = 1;
        attn_block_declare(&b->attn, p, nn_name(s, "output_blocks.%d.%d", o, idx++), ch, cfg.heads, (int)G);
      }
      if (l > 0 && i == cfg.num_res_blocks) {
        b->has_up = 1;
        resblock_declare(&b->up, p, nn_name(s, "output_blocks.%d.%d", o, idx), ch, ch, E, (int)G, 1, RESBLOCK_UP);
      }
      o++;
    }
  }
  VP_ASSERT(k == -1);
  m->nout = o;
  nn_group_norm_declare(&m->out_norm, p, "out.0", (int)G, ch, 1e-5f, 1);
  nn_conv2d_declare(&m->out_conv, p, "out.2", ch, (int64_t)cfg.fut_frames * cfg.channels, 3, 1, 1,
                    NN_BIAS | NN_ZERO_INIT);
}

static void block_init(const tiny_ddpm_block *b, const vp_params *p, uint64_t seed) {
  resblock_init(&b->res, p, seed);
  if (b->has_attn) attn_block_init(&b->attn, p, seed);
  if (b->has_up) resblock_init(&b->up, p, seed);
}

void tiny_ddpm_init(const tiny_ddpm *m, const vp_params *p, uint64_t seed) {
  nn_linear_init(&m->emb0, p, seed);
  nn_linear_init(&m->emb1, p, seed);
  nn_conv_init(&m->in_conv, p, seed);
  for (int k = 0; k < m->nin; k++) block_init(&m->in[k], p, seed);
  resblock_init(&m->mid0, p, seed);
  attn_block_init(&m->mid1, p, seed);
  resblock_init(&m->mid2, p, seed);
  for (int o = 0; o < m->nout; o++) block_init(&m->out[o], p, seed);
  nn_norm_init(&m->out_norm);
  nn_conv_init(&m->out_conv, p, seed);
}

// ---------------------------------------------------------------- forward
static vp_tensor *block_fwd(vp_ctx *ctx, const tiny_ddpm_block *b, vp_tensor *h, vp_tensor *emb) {
  h = resblock_fwd(ctx, &b->res, h, emb);
  if (b->has_attn) h = attn_block_fwd(ctx, &b->attn, h);
  if (b->has_up) h = resblock_fwd(ctx, &b->up, h, emb);
  return h;
}

vp_tensor *tiny_ddpm_eps(vp_ctx *ctx, const tiny_ddpm *m, const vp_schedule *s, vp_tensor *x_t,
                         vp_tensor *cond, const float *t) {
  const tiny_ddpm_cfg *c = &m->cfg;
  char s1[64], s2[64];
  const int64_t B = x_t->shape[0], mult = tiny_ddpm_size_multiple(c);
  if (x_t->ndim != 4 || cond->ndim != 4 || cond->shape[0] != B || x_t->shape[1] != (int64_t)c->fut_frames * c->channels ||
      cond->shape[1] != (int64_t)c->ctx_frames * c->channels || cond->shape[2] != x_t->shape[2] ||
      cond->shape[3] != x_t->shape[3] || x_t->shape[2] % mult != 0 || x_t->shape[3] % mult != 0)
    vp_die("tiny_ddpm: noisy frames %s and condition %s do not fit the model (K*C = %d, Tc*C = %d, "
           "H and W multiples of %lld)", tensor_shape_str(x_t, s1, sizeof s1), tensor_shape_str(cond, s2, sizeof s2),
           c->fut_frames * c->channels, c->ctx_frames * c->channels, (long long)mult);
  // Timestep embedding (B, W) -> (B, 4W).
  vp_tensor *emb = op_timestep_embedding(ctx, t, B, c->width, VP_EMB_COS_SIN, 10000.0);
  emb = nn_linear_fwd(ctx, &m->emb1, op_silu(ctx, nn_linear_fwd(ctx, &m->emb0, emb)));
  // EDM preconditioning coefficients, (B, 1, 1, 1) each (see tiny_ddpm.h).
  vp_tensor *xin = x_t, *cskip = NULL, *cout = NULL;
  if (c->precond == TINY_DDPM_PRECOND_EDM) {
    VP_ASSERT(s != NULL);
    vp_tensor *cin = tensor_newv(ctx, 4, B, (int64_t)1, (int64_t)1, (int64_t)1);
    cskip = tensor_newv(ctx, 4, B, (int64_t)1, (int64_t)1, (int64_t)1);
    cout = tensor_newv(ctx, 4, B, (int64_t)1, (int64_t)1, (int64_t)1);
    const double sd = c->sigma_data;
    for (int64_t b = 0; b < B; b++) {
      const int ti = (int)t[b];
      if (ti < 0 || ti >= s->T || (float)ti != t[b]) vp_die("tiny_ddpm: timestep %g is not an integer in [0, %d)", t[b], s->T);
      const double a = s->alphas_cumprod[ti], v = 1.0 - a + a * sd * sd;
      cin->data[b] = (float)(1.0 / sqrt(v));
      cskip->data[b] = (float)(sqrt(1.0 - a) / v);
      cout->data[b] = (float)(-sd * sqrt(a) / sqrt(v));
    }
    xin = op_mul(ctx, x_t, cin);
  }
  vp_tensor *in[2] = {xin, cond};
  vp_tensor *hs[TINY_DDPM_MAX_BLOCKS + 1];
  vp_tensor *h = nn_conv_fwd(ctx, &m->in_conv, op_concat(ctx, in, 2, 1));  // (B, width, H, W)
  hs[0] = h;
  for (int k = 0; k < m->nin; k++) hs[k + 1] = h = block_fwd(ctx, &m->in[k], h, emb);
  h = resblock_fwd(ctx, &m->mid0, h, emb);
  h = attn_block_fwd(ctx, &m->mid1, h);
  h = resblock_fwd(ctx, &m->mid2, h, emb);
  int k = m->nin;
  for (int o = 0; o < m->nout; o++) {
    vp_tensor *cat[2] = {h, hs[k--]};
    h = block_fwd(ctx, &m->out[o], op_concat(ctx, cat, 2, 1), emb);
  }
  vp_tensor *u = nn_conv_fwd(ctx, &m->out_conv, op_silu(ctx, nn_norm_fwd(ctx, &m->out_norm, h)));
  if (c->precond != TINY_DDPM_PRECOND_EDM) return u;
  return op_add(ctx, op_mul(ctx, x_t, cskip), op_mul(ctx, u, cout));
}

// x0 (B, K*C, H, W) minus the last condition frame, broadcast over the K
// target frames, as ops (so it stays differentiable should the frames be).
static vp_tensor *residual_target(vp_ctx *ctx, const tiny_ddpm *m, vp_tensor *x0, vp_tensor *cond) {
  const int64_t B = x0->shape[0], C = m->cfg.channels, H = x0->shape[2], W = x0->shape[3];
  vp_tensor *last = op_slice(ctx, cond, 1, (int64_t)(m->cfg.ctx_frames - 1) * C, C);  // (B, C, H, W)
  vp_tensor *x5 = op_reshape(ctx, x0, 5, (int64_t[]){B, m->cfg.fut_frames, C, H, W});
  vp_tensor *l5 = op_reshape(ctx, last, 5, (int64_t[]){B, 1, C, H, W});
  return op_reshape(ctx, op_sub(ctx, x5, l5), 4, x0->shape);
}

vp_tensor *tiny_ddpm_loss(vp_ctx *ctx, const tiny_ddpm *m, const vp_diffusion *d, vp_tensor *x0,
                          vp_tensor *cond, const int64_t *sample, uint64_t seed, uint64_t step) {
  const int64_t B = x0->shape[0], n = tensor_numel(x0) / B;
  int32_t *t = arena_alloc(&ctx->act, sizeof(int32_t) * (size_t)B);
  float *tf = arena_alloc(&ctx->act, sizeof(float) * (size_t)B);
  vp_tensor *eps = tensor_new(ctx, x0->ndim, x0->shape);
  ddpm_draw(seed, step, sample, B, d->sched.T, n, t, eps->data);
  if (m->cfg.residual) x0 = residual_target(ctx, m, x0, cond);
  for (int64_t b = 0; b < B; b++) tf[b] = (float)t[b];
  vp_tensor *x_t = ddpm_q_sample(ctx, &d->sched, x0, eps, t);
  return ddpm_loss(ctx, tiny_ddpm_eps(ctx, m, &d->sched, x_t, cond, tf), eps, d->loss);
}

// ---------------------------------------------------------------- sampling
typedef struct eps_arg {
  const tiny_ddpm *m;
  const vp_schedule *s;
  const float *cond;  // (B, Tc*C, H, W)
  int64_t B;
  int H, W;
} eps_arg;

static vp_tensor *sample_eps(vp_ctx *ctx, vp_tensor *x, const float *t, void *arg) {
  const eps_arg *a = arg;
  vp_tensor *cond = tensor_from(ctx, 4, (int64_t[]){a->B, (int64_t)a->m->cfg.ctx_frames * a->m->cfg.channels, a->H, a->W},
                                a->cond);
  return tiny_ddpm_eps(ctx, a->m, a->s, x, cond, t);
}

void tiny_ddpm_sample(vp_ctx *ctx, const tiny_ddpm *m, const vp_diffusion *d, const float *cond,
                      int64_t B, int H, int W, const int64_t *sample, uint64_t seed, float *out) {
  eps_arg a = {.m = m, .s = &d->sched, .cond = cond, .B = B, .H = H, .W = W};
  ddim_rng r = {.seed = seed, .sample = sample};
  const int64_t shape[4] = {B, (int64_t)m->cfg.fut_frames * m->cfg.channels, H, W};
  ddim_sample(ctx, &d->sched, &d->ddim, sample_eps, &a, ddim_rng_noise, &r, 4, shape, out);
  if (!m->cfg.residual) return;
  const int Tc = m->cfg.ctx_frames, K = m->cfg.fut_frames;
  const int64_t F = (int64_t)m->cfg.channels * H * W;
  for (int64_t b = 0; b < B; b++) {
    const float *last = cond + (b * Tc + Tc - 1) * F;
    for (int k = 0; k < K; k++) {
      float *o = out + (b * K + k) * F;
      for (int64_t j = 0; j < F; j++) {
        float v = last[j] + o[j];
        o[j] = v < -1.f ? -1.f : v > 1.f ? 1.f : v;
      }
    }
  }
}

// ---------------------------------------------------------------- data
void tiny_ddpm_frames(const vp_batch *b, int t0, int nt, float *out) {
  VP_ASSERT(t0 >= 0 && nt >= 1 && t0 + nt <= b->T);
  int C = 0;
  for (int k = 0; k < b->nmod; k++) C += b->channels[k];
  const int64_t HW = (int64_t)b->H * b->W;
  for (int64_t i = 0; i < b->n; i++)
    for (int t = 0; t < nt; t++) {
      int coff = 0;
      for (int k = 0; k < b->nmod; k++) {
        const int Cm = b->channels[k];
        // (n, T, H, W, Cm) channel-last -> channel-first planes.
        const float *src = b->data[k] + ((i * b->T + t0 + t) * HW) * Cm;
        float *dst = out + ((i * nt + t) * C + coff) * HW;
        for (int64_t p = 0; p < HW; p++)
          for (int c = 0; c < Cm; c++) dst[c * HW + p] = src[p * Cm + c];
        coff += Cm;
      }
    }
}

// ---------------------------------------------------------------- vp_model
typedef struct tiny_ddpm_model {
  tiny_ddpm net;
  vp_params params;
  vp_diffusion diff;
} tiny_ddpm_model;

static vp_tensor *model_forward_loss(vp_model *vm, vp_ctx *ctx, const vp_model_batch *mb) {
  tiny_ddpm_model *tm = vm->impl;
  const tiny_ddpm_cfg *c = &tm->net.cfg;
  const vp_batch *b = mb->data;
  int C = 0;
  for (int k = 0; k < b->nmod; k++) C += b->channels[k];
  if (b->T != c->ctx_frames + c->fut_frames || C != c->channels)
    vp_die("tiny_ddpm: a batch of %d frames x %d channels, but the model was built for %d + %d frames x %d "
           "channels", b->T, C, c->ctx_frames, c->fut_frames, c->channels);
  const int64_t B = b->n;
  vp_tensor *cond = tensor_newv(ctx, 4, B, (int64_t)c->ctx_frames * C, (int64_t)b->H, (int64_t)b->W);
  vp_tensor *x0 = tensor_newv(ctx, 4, B, (int64_t)c->fut_frames * C, (int64_t)b->H, (int64_t)b->W);
  tiny_ddpm_frames(b, 0, c->ctx_frames, cond->data);
  tiny_ddpm_frames(b, c->ctx_frames, c->fut_frames, x0->data);
  return tiny_ddpm_loss(ctx, &tm->net, &tm->diff, x0, cond, b->sample, vm->seed, mb->step);
}

const tiny_ddpm *tiny_ddpm_model_net(const vp_model *m) {
  VP_ASSERT(m->forward_loss == model_forward_loss);  // made by tiny_ddpm_model_create
  return &((const tiny_ddpm_model *)m->impl)->net;
}

const vp_diffusion *tiny_ddpm_model_diffusion(const vp_model *m) {
  VP_ASSERT(m->forward_loss == model_forward_loss);
  return &((const tiny_ddpm_model *)m->impl)->diff;
}

static void model_free_impl(vp_model *vm) {
  tiny_ddpm_model *tm = vm->impl;
  params_free(&tm->params);
  diffusion_free(&tm->diff);
  free(tm);
  vm->impl = NULL;
  vm->params = NULL;
}

vp_model *tiny_ddpm_model_create(const vp_config *cfg, const vp_source *src) {
  char where[512];
  tiny_ddpm_cfg c = {0};
  c.ctx_frames = (int)cfg_int(cfg, "model.tiny_ddpm.context_frames");
  c.fut_frames = src->T - c.ctx_frames;
  if (c.fut_frames < 1)
    vp_die("model.tiny_ddpm.context_frames = %d (%s) leaves no frame to predict in clips of %d frames; "
           "raise data.frames", c.ctx_frames, cfg_source(cfg, "model.tiny_ddpm.context_frames", where, sizeof where),
           src->T);
  for (int k = 0; k < src->nmod; k++) c.channels += src->mod[k].channels;
  c.width = (int)cfg_int(cfg, "model.channels");
  int n = 0;
  const int64_t *mult = cfg_int_list(cfg, "model.channel_mult", &n);
  if (n < 1 || n > TINY_DDPM_MAX_LEVELS)
    vp_die("model.channel_mult (%s) has %d levels; tiny_ddpm supports 1 to %d",
           cfg_source(cfg, "model.channel_mult", where, sizeof where), n, TINY_DDPM_MAX_LEVELS);
  c.nlevels = n;
  for (int l = 0; l < n; l++) c.mult[l] = (int)mult[l];
  c.num_res_blocks = (int)cfg_int(cfg, "model.tiny_ddpm.num_res_blocks");
  const int64_t *al = cfg_int_list(cfg, "model.tiny_ddpm.attn_levels", &n);
  for (int i = 0; i < n; i++) {
    if (al[i] >= c.nlevels)
      vp_die("model.tiny_ddpm.attn_levels (%s) names level %" PRId64 ", but model.channel_mult has %d levels",
             cfg_source(cfg, "model.tiny_ddpm.attn_levels", where, sizeof where), al[i], c.nlevels);
    c.attn_levels |= 1u << al[i];
  }
  c.heads = (int)cfg_int(cfg, "model.tiny_ddpm.heads");
  c.groups = (int)cfg_int(cfg, "model.tiny_ddpm.groups");
  c.residual = cfg_bool(cfg, "model.tiny_ddpm.residual");
  c.precond = strcmp(cfg_str(cfg, "model.tiny_ddpm.precond"), "edm") == 0 ? TINY_DDPM_PRECOND_EDM : TINY_DDPM_PRECOND_NONE;
  c.sigma_data = (float)cfg_float(cfg, "model.tiny_ddpm.sigma_data");
  const int mul = tiny_ddpm_size_multiple(&c);
  if (src->H % mul != 0 || src->W % mul != 0)
    vp_die("data.size = [%d, %d] (%s): tiny_ddpm with %d levels needs multiples of %d", src->H, src->W,
           cfg_source(cfg, "data.size", where, sizeof where), c.nlevels, mul);

  tiny_ddpm_model *tm = vp_calloc(1, sizeof(*tm));
  params_init(&tm->params);
  tiny_ddpm_declare(&tm->net, &tm->params, c);
  params_alloc(&tm->params);
  const uint64_t seed = (uint64_t)cfg_int(cfg, "seed");
  tiny_ddpm_init(&tm->net, &tm->params, seed);
  diffusion_from_config(&tm->diff, cfg);

  vp_model *vm = vp_calloc(1, sizeof(*vm));
  vm->name = "tiny_ddpm";
  vm->params = &tm->params;
  vm->seed = seed;
  vm->impl = tm;
  vm->forward_loss = model_forward_loss;
  vm->free = model_free_impl;
  return vm;
}
