// Which pages of guest RAM are all zero, found without reading the pages the host never gave
// memory to: what a snapshot leaves out, and what the content dirty log need not compare.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace vmm {

constexpr size_t kZeroPagesPageBytes = 4096;

// Whether the host holds memory for each page of [ram, ram + bytes), in RAM or in swap
// (/proc/self/pagemap bits 63 and 62, Documentation/admin-guide/mm/pagemap.rst): a page that has
// none was never written, or was given back, and reads as zero. All true where pagemap cannot
// be read.
std::vector<bool> pages_with_memory(const uint8_t* ram, size_t bytes);

// Whether one page holds only zero bytes.
bool page_is_zero(const uint8_t* page);

// One bit per page (bit i of byte i/8) set for each all-zero page.
std::vector<uint8_t> zero_page_map(const uint8_t* ram, size_t bytes);

}  // namespace vmm
