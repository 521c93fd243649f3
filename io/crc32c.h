// crc32c.h: CRC-32C (Castagnoli), as TFRecord framing uses it.
// Reflected polynomial 0x82F63B78, initial value and final xor 0xFFFFFFFF
// (crc32c("123456789") = 0xE3069283). The SSE4.2 crc32 instruction is used
// when the CPU has it, a slicing-by-8 table otherwise; both give the same
// value.
#ifndef VP_IO_CRC32C_H
#define VP_IO_CRC32C_H

#include <stddef.h>
#include <stdint.h>

// CRC of n bytes, continuing from crc (0 for a fresh CRC).
uint32_t crc32c_extend(uint32_t crc, const void *data, size_t n);
static inline uint32_t crc32c(const void *data, size_t n) { return crc32c_extend(0, data, n); }
// The portable table version (for tests: it must equal the dispatched one).
uint32_t crc32c_extend_sw(uint32_t crc, const void *data, size_t n);
// 1 when crc32c_extend uses the hardware instruction.
int crc32c_hw_available(void);

// TFRecord's masked CRC: rotate right by 15 and add 0xa282ead8, so a CRC
// stored inside CRC-protected data does not look like a plain CRC.
static inline uint32_t crc32c_mask(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + 0xa282ead8u; }
static inline uint32_t crc32c_unmask(uint32_t m) {
  uint32_t r = m - 0xa282ead8u;
  return (r >> 17) | (r << 15);
}

#endif
