// schedule.h: the noise schedules of the three papers, as the tables every
// diffusion computation reads (betas, alphā, posterior variance).
//
//   sqrt_linear  SyncVP / LDM "linear":  beta_t = (sqrt(b0) + (sqrt(b1) - sqrt(b0)) t / (T-1))^2
//                (SyncVP: b0 = 0.0015, b1 = 0.0195, T = 1000)
//   linear       PredLDM / IDDPM "linear": beta_t = b0 + (b1 - b0) t / (T-1)
//                (b0 = 1e-4, b1 = 0.02, T = 1000)
//   cosine       RVD / Nichol & Dhariwal: f(i) = cos^2(((i/T) + s) / (1 + s) * pi/2),
//                beta_i = min(1 - f(i+1)/f(i), max_beta), i = 0..T-1
//                (RVD: s = 0.008, T = 1600, max_beta = 0.999)
// then, for every kind, alphā_t = prod_{k<=t} (1 - beta_k) (alphas_cumprod),
// alphā_{-1} = 1, and the posterior variance of q(x_{t-1} | x_t, x_0),
// beta_t (1 - alphā_{t-1}) / (1 - alphā_t) (entry 0 is exactly 0).
// Everything is computed and kept in double; the references store float32
// buffers computed in float64, which is (float) of these values.
#ifndef VP_DIFFUSION_SCHEDULE_H
#define VP_DIFFUSION_SCHEDULE_H

#include <stdint.h>

typedef enum {
  VP_SCHED_SQRT_LINEAR = 0,  // SyncVP / LDM
  VP_SCHED_LINEAR = 1,       // PredLDM / IDDPM
  VP_SCHED_COSINE = 2,       // RVD / improved DDPM
} vp_sched_kind;

typedef struct vp_schedule {
  vp_sched_kind kind;
  int T;                        // diffusion steps; timesteps are 0..T-1
  double *betas;                // (T)
  double *alphas_cumprod;       // (T) alphā_t
  double *alphas_cumprod_prev;  // (T) alphā_{t-1}, with alphā_{-1} = 1
  double *sqrt_ac;              // (T) sqrt(alphā_t)
  double *sqrt_1m_ac;           // (T) sqrt(1 - alphā_t)
  double *posterior_variance;   // (T)
} vp_schedule;

// b0, b1: the first and last beta (0 < b0 <= b1 < 1). T >= 2.
void schedule_init_linear(vp_schedule *s, int T, double b0, double b1);
void schedule_init_sqrt_linear(vp_schedule *s, int T, double b0, double b1);
// s > 0, 0 < max_beta <= 1 (RVD clips at 0.999). T >= 1.
void schedule_init_cosine(vp_schedule *s, int T, double cos_s, double max_beta);
void schedule_free(vp_schedule *s);

// "sqrt_linear", "linear", "cosine".
const char *schedule_kind_name(vp_sched_kind k);
// Returns 0 and sets *k on a known name, -1 otherwise.
int schedule_kind_parse(const char *name, vp_sched_kind *k);

#endif
