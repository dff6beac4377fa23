#include "trap-platform.h"

#include <algorithm>
#include <cstring>

#include "registers.h"
#include "vmm-region.h"
#include "x86.h"

namespace vmm {
namespace {

// The stub's IRET frame to an outer ring: EIP, CS, EFLAGS, ESP, SS (SDM Vol. 3 Figure 6-4).
constexpr uint32_t kEntryFrameWords = 5;

void write_u32(uint8_t* at, uint32_t value) { std::memcpy(at, &value, 4); }
uint32_t read_u32(const uint8_t* at) {
  uint32_t v;
  std::memcpy(&v, at, 4);
  return v;
}

// An 8-byte segment descriptor (SDM Vol. 3 §3.4.5): flat, 4 KiB granular, 32-bit. Types are
// given with the accessed bit set: the CPU would otherwise write it into the read-only GDT.
uint64_t flat_descriptor(uint32_t type, uint32_t dpl) {
  uint32_t lo = 0x0000FFFF;
  uint32_t hi = (type << kDescriptorTypeShift) | kDescriptorS | (dpl << kDescriptorDplShift) | kDescriptorPresent |
                kDescriptorLimitHigh | kDescriptorBig | kDescriptorGranular;
  return (static_cast<uint64_t>(hi) << 32) | lo;
}

}  // namespace

std::unique_ptr<TrapPlatform> TrapPlatform::create(uc_engine* uc, LiveCpuState* live, GuestRam ram, uint64_t ram_bytes,
                                                   uint64_t physical, KernelRingFlags kernel_flags, uint32_t pool_bytes,
                                                   uc_err* err) {
  auto memory = std::make_unique<GuestMemory>(kRegionBytes);
  if (!memory->ok()) {
    *err = UC_ERR_NOMEM;
    return nullptr;
  }
  // No access until the guest is deprivileged (reveal_region()): a guest that runs as under
  // direct forms physical addresses with no shadow in the way (big real mode).
  *err = uc_mem_map_ptr(uc, physical, kRegionBytes, UC_PROT_NONE, memory->base());
  if (*err != UC_ERR_OK) return nullptr;
  std::unique_ptr<TrapPlatform> platform(new TrapPlatform(uc, std::move(memory), physical));
  platform->build_region();
  platform->kernel_flags_ = kernel_flags;
  platform->live_ = live;
  uint64_t pool_end = pool_bytes == 0 || pool_bytes > kRegionPoolEnd - kRegionPool ? kRegionPoolEnd : kRegionPool + (pool_bytes & ~0xFFFu);
  ShadowRegion region{platform->memory_->base(), physical, kRegionBytes, pool_end, physical + kRegionBytes};
  platform->mmu_ = std::make_unique<ShadowMmu>(ram, ram_bytes, region, [uc] { uc_ctl_flush_tlb(uc); },
                                               [uc, live](uint32_t linear) {
                                                 if (live && live->flushes_pages()) {
                                                   live->flush_tlb_page(linear);
                                                 } else {
                                                   uc_ctl_flush_tlb(uc);
                                                 }
                                               });
  platform->ram_ = ram;
  platform->view_.hole_memory = platform->memory_->base();
  platform->view_.hidden_flags = kernel_flags.owned;
  TrapPlatform* self = platform.get();
  platform->view_.enter = [self](uint32_t cs, uint32_t eip, uint32_t eflags, uint32_t ss, uint32_t esp) {
    self->enter(cs, eip, eflags, ss, esp);
  };
  return platform;
}

uc_err TrapPlatform::reveal_region() {
  if (revealed_) return UC_ERR_OK;
  uc_err err = uc_mem_protect(uc_, physical_, kRegionBytes, UC_PROT_ALL);
  if (err == UC_ERR_OK) revealed_ = true;
  return err;
}

uc_err TrapPlatform::conceal_region() {
  if (!revealed_) return UC_ERR_OK;
  uc_err err = uc_mem_protect(uc_, physical_, kRegionBytes, UC_PROT_NONE);
  if (err == UC_ERR_OK) revealed_ = false;
  return err;
}

void TrapPlatform::build_region() {
  uint8_t* base = memory_->base();
  // The hole's page table: region offset x at linear kHoleLinear + x, supervisor and read-only.
  // Unicorn (like QEMU's TCG) does not check data-segment limits, so the segment truncation
  // alone would not keep the ring-1 kernel out: with CR0.WP set, read-only pages do. The CPU only
  // reads these pages (descriptors, the stub, its IRET frame); the VMM writes them directly.
  for (uint32_t offset = 0; offset < kRegionMappedBytes; offset += 4096) {
    write_u32(base + kRegionHolePageTable + (offset >> 12) * 4, static_cast<uint32_t>(physical_ + offset) | 0x1);
    write_u32(base + kRegionHolePaeTables + (offset >> 12) * 8, static_cast<uint32_t>(physical_ + offset) | 0x1);
  }
  uint8_t* gdt = base + kRegionGdt;
  uint64_t code = flat_descriptor(kSegmentCode | kSegmentReadable | kSegmentAccessed, 0);
  uint64_t data = flat_descriptor(kSegmentWritable | kSegmentAccessed, 0);
  std::memcpy(gdt + kVmmCodeSelector, &code, 8);
  std::memcpy(gdt + kVmmDataSelector, &data, 8);
  // A 32-bit TSS without an I/O bitmap (its base lies past the limit), so every IN and OUT at
  // CPL > IOPL would raise #GP (SDM Vol. 1 §19.5.2); Unicorn's I/O hooks intercept them first.
  uint32_t tss_linear = kHoleLinear + kRegionTss;
  uint32_t tss_lo = 0x67 | (tss_linear << 16);
  uint32_t tss_hi = ((tss_linear >> 16) & 0xFF) | (kSystemTss32Available << kDescriptorTypeShift) | kDescriptorPresent |
                    (tss_linear & 0xFF000000u);
  write_u32(gdt + kVmmTssSelector, tss_lo);
  write_u32(gdt + kVmmTssSelector + 4, tss_hi);
  write_u32(base + kRegionTss + 0x66, 0x68u << 16);  // I/O map base = 0x68 > limit
  base[kRegionStub] = 0xCF;                              // iret
}

void TrapPlatform::map_translation_cache(uint32_t bytes) {
  uint8_t* base = memory_->base();
  // Entries that were not present: no TLB holds them, so none needs flushing.
  for (; tc_mapped_ < bytes && tc_mapped_ < kTcBytes; tc_mapped_ += 4096) {
    uint32_t index = (kHoleTcOffset + tc_mapped_) >> 12;
    write_u32(base + kRegionHolePageTable + index * 4, static_cast<uint32_t>(physical_ + kRegionTc + tc_mapped_) | 0x1);
    write_u32(base + kRegionHolePaeTables + index * 8, static_cast<uint32_t>(physical_ + kRegionTc + tc_mapped_) | 0x1);
  }
}

void TrapPlatform::set_guest_paging(const PagingState& guest) {
  view_.guest_paging = guest;
  uint32_t root = mmu_->activate(guest);
  // The real CPU always pages (through the shadow) with WP set, so read-only shadow entries bind
  // the deprivileged kernel too; the FPU bits are the guest's.
  uint32_t cr0 = kCr0Pe | kCr0Pg | kCr0Wp | kCr0Et | kCr0Ne | (guest.cr0 & (kCr0Mp | kCr0Em | kCr0Ts));
  // PAE guests get PAE shadows; otherwise 32-bit shadows with 4 KiB pages only.
  bool pae = (guest.cr0 & kCr0Pg) && (guest.cr4 & kCr4Pae);
  uint32_t cr4 = (guest.cr4 & ~(kCr4Pse | kCr4Pae | kCr4Pge)) | (pae ? kCr4Pae : 0);
  // SMEP and SMAP act only with paging on (SDM Vol. 3 §4.6.1); the real CPU always pages, through
  // user-accessible shadows of physical memory while the guest does not.
  if (!(guest.cr0 & kCr0Pg)) cr4 &= ~(kCr4Smep | kCr4Smap);
  write_register(uc_, kRegCr4, cr4);
  write_register(uc_, kRegCr3, root);
  write_register(uc_, kRegCr0, cr0);
}

void TrapPlatform::load_shadow_root(uint32_t physical) { write_register(uc_, kRegCr3, physical); }

bool TrapPlatform::load_guest_gdt(EventInjector& injector, uint32_t base, uint32_t limit) {
  gdt_base_ = base;
  gdt_limit_ = limit;
  gdt_copies_++;
  uint8_t* gdt = memory_->base() + kRegionGdt;
  uint32_t count = std::min<uint32_t>((limit + 1) / 8, kFirstVmmDescriptor);
  // Descriptors past the guest's limit are null: those a larger table left are cleared.
  if (copied_descriptors_ > count) std::memset(gdt + count * 8, 0, (copied_descriptors_ - count) * 8);
  copied_descriptors_ = count;
  // One read of the whole table (a walk per page, not per descriptor). An unreadable table fails
  // before anything is written.
  std::vector<uint8_t> table(count > 1 ? (count - 1) * 8 : 0);
  if (!table.empty() && !injector.read_guest_linear(base + 8, table.data(), static_cast<uint32_t>(table.size()))) {
    copied_descriptors_ = kFirstVmmDescriptor;
    return false;
  }
  gdt_has_gates_ = false;
  for (uint32_t i = 1; i < count; i++) {
    const uint8_t* raw = table.data() + (i - 1) * 8;
    uint32_t lo = read_u32(raw), hi = read_u32(raw + 4);
    SegmentDescriptor segment = decode_descriptor(lo, hi);
    if (segment.system && segment.present &&
        (segment.type == kSystemCallGate16 || segment.type == kSystemCallGate32 || segment.type == kSystemTaskGate)) {
      gdt_has_gates_ = true;
    }
    if (!segment.system && segment.present) {
      if (segment.dpl == 0) hi |= kGuestKernelRing << kDescriptorDplShift;
      // Accessed: the CPU must not write the read-only real GDT.
      hi |= kSegmentAccessed << kDescriptorTypeShift;
      bool expand_down = segment.is_data() && (segment.type & kSegmentExpandDown);
      uint64_t last = static_cast<uint64_t>(segment.base) + segment.limit;
      if (!expand_down && last >= kHoleLinear && segment.base < kHoleLinear) {
        // Truncate: the segment ends just below the hole.
        bool granular = segment.granular;
        uint32_t bytes = kHoleLinear - segment.base;
        uint32_t new_limit = granular ? (bytes >> 12) - 1 : bytes - 1;
        if (!granular && new_limit > 0xFFFFF) {
          granular = true;
          new_limit = (bytes >> 12) - 1;
          hi |= kDescriptorGranular;
        }
        lo = (lo & 0xFFFF0000u) | (new_limit & 0xFFFF);
        hi = (hi & ~kDescriptorLimitHigh) | (new_limit & kDescriptorLimitHigh);
      }
    }
    write_u32(gdt + i * 8, lo);
    write_u32(gdt + i * 8 + 4, hi);
  }
  // Where the descriptors lie in guest RAM, for guest_gdt_changed().
  gdt_chunks_.clear();
  for (uint32_t offset = 0; offset < table.size();) {
    uint32_t linear = base + 8 + offset;
    uint32_t length = std::min<uint32_t>(static_cast<uint32_t>(table.size()) - offset, 4096 - (linear & 0xFFF));
    Translation t = walk_guest_page_tables(ram_, view_.guest_paging, linear, 0);
    if (t.ok && ram_.contains(t.physical, length)) gdt_chunks_.push_back({t.physical, offset, length});
    offset += length;
  }
  gdt_image_ = std::move(table);
  // Writes to the guest's table are reported by the shadow MMU, so the copy can follow them.
  std::vector<uint32_t> frames;
  PhysicalRange bytes;
  for (uint64_t page = base & ~0xFFFu; page <= static_cast<uint64_t>(base) + limit; page += 4096) {
    Translation t = walk_guest_page_tables(ram_, view_.guest_paging, static_cast<uint32_t>(page), 0);
    if (t.ok) frames.push_back(static_cast<uint32_t>(t.physical >> 12));
  }
  Translation first = walk_guest_page_tables(ram_, view_.guest_paging, base, 0);
  if (first.ok) bytes = {first.physical, first.physical + limit + 1};
  mmu_->watch_descriptor_frames(frames, bytes);
  // Register writes only when needed: this runs again after every write to the guest's GDT.
  uc_x86_mmr gdtr{0, kHoleLinear + kRegionGdt, 0xFFFF, 0}, current{};
  uc_reg_read(uc_, UC_X86_REG_GDTR, &current);
  if (current.base != gdtr.base || current.limit != gdtr.limit) uc_reg_write(uc_, UC_X86_REG_GDTR, &gdtr);
  // TR is written as a whole segment cache (Unicorn takes a uc_x86_mmr for it, not a selector):
  // the VMM's 32-bit TSS, present; QEMU's I/O-permission check wants type 9 in the cache.
  uc_x86_mmr tr{static_cast<uint16_t>(kVmmTssSelector), kHoleLinear + kRegionTss, 0x67,
                kDescriptorPresent | (kSystemTss32Available << kDescriptorTypeShift)};
  uc_reg_read(uc_, UC_X86_REG_TR, &current);
  if (current.selector != tr.selector || current.base != tr.base || current.limit != tr.limit || current.flags != tr.flags) {
    uc_reg_write(uc_, UC_X86_REG_TR, &tr);
  }
  return true;
}

bool TrapPlatform::guest_gdt_changed() const {
  for (const GdtChunk& chunk : gdt_chunks_) {
    if (std::memcmp(ram_.at(chunk.physical), gdt_image_.data() + chunk.offset, chunk.length) != 0) return true;
  }
  return false;
}

void TrapPlatform::enter(uint32_t cs, uint32_t eip, uint32_t eflags, uint32_t ss, uint32_t esp) {
  write_register(uc_, kRegEip, enter_without_eip(cs, eip, eflags, ss, esp));
}

uint32_t TrapPlatform::enter_without_eip(uint32_t cs, uint32_t eip, uint32_t eflags, uint32_t ss, uint32_t esp) {
  // The VMM's own ring-0 segments first; the stub's IRET then loads the guest's.
  uint32_t vmm_code = kVmmCodeSelector;
  load_ring0_stack_segment(uc_, live_, kVmmDataSelector);
  uc_reg_write(uc_, UC_X86_REG_CS, &vmm_code);
  // Reload the data segments from the real GDT: their cached descriptors may still be the guest's
  // ring-0 ones, which the IRET to an outer ring would null.
  for (uc_x86_reg segment : {UC_X86_REG_DS, UC_X86_REG_ES, UC_X86_REG_FS, UC_X86_REG_GS}) {
    uint32_t selector = 0;
    uc_reg_read(uc_, segment, &selector);
    if (selector & ~3u) uc_reg_write(uc_, segment, &selector);
  }
  // The flags the VMM owns (KernelRingFlags): under the trap engine the real IOPL is 0, so CLI and
  // STI trap, and NT is set at ring 1, so IRET traps too (TrapCore::after_event_delivered).
  eflags = (eflags & ~kernel_flags_.owned) | kFlagFixed;
  if ((cs & 3) == kGuestKernelRing) eflags |= kernel_flags_.set;
  uint8_t* stack_top = memory_->base() + kRegionStack + 4096;
  uint32_t frame[kEntryFrameWords] = {eip, cs, eflags, esp, ss};
  std::memcpy(stack_top - sizeof frame, frame, sizeof frame);
  write_register(uc_, kRegEsp, kHoleLinear + kRegionStack + 4096 - sizeof frame);
  // The stub's own IRET must not be a task return (NT is the guest's trap flag at ring 1).
  write_register(uc_, kRegEflags, 2);
  return kHoleLinear + kRegionStub;
}

uint32_t* TrapPlatform::entry_frame_eip(uint32_t eip, uint32_t* cs) {
  if (eip != kHoleLinear + kRegionStub) return nullptr;
  uint32_t* frame = reinterpret_cast<uint32_t*>(memory_->base() + kRegionStack + 4096) - kEntryFrameWords;
  *cs = frame[1];
  return &frame[0];
}

}  // namespace vmm
