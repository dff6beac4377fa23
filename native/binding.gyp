{
  "targets": [
    {
      "target_name": "vmm_native",
      "sources": [
        "src/addon.cc",
        "src/architectural-state.cc",
        "src/bt-core.cc",
        "src/bt-translator.cc",
        "src/code-write-checks.cc",
        "src/tlb-code-marks.cc",
        "src/own-memory.cc",
        "src/content-dirty-log.cc",
        "src/cpu-state-image.cc",
        "src/debug-stops.cc",
        "src/direct-cpu-checks.cc",
        "src/guest-halt.cc",
        "src/guest-memory.cc",
        "src/event-injection.cc",
        "src/event-windows.cc",
        "src/exact-stop.cc",
        "src/exception-state.cc",
        "src/guest-page-walk.cc",
        "src/page-table-guard.cc",
        "src/postcopy-receiver.cc",
        "src/host-tsc.cc",
        "src/lazy-flags.cc",
        "src/live-cpu-state.cc",
        "src/timeslice-timer.cc",
        "src/tsc-offset.cc",
        "src/realtime-priority.cc",
        "src/registers.cc",
        "src/resume-flag.cc",
        "src/shadow-mmu.cc",
        "src/smsw-register-form.cc",
        "src/task-switch.cc",
        "src/trace-recorder.cc",
        "src/translation-cache.cc",
        "src/trap-core.cc",
        "src/trap-platform.cc",
        "src/vcpu.cc",
        "src/zero-by-release.cc",
        "src/zero-pages.cc"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "<(module_root_dir)/../.deps/unicorn/usr/include"
      ],
      "libraries": [
        "<(module_root_dir)/../.deps/unicorn/usr/lib/x86_64-linux-gnu/libunicorn.a",
        "-lcapstone",
        "-lpthread",
        "-lm"
      ],
      "defines": ["NAPI_VERSION=8", "NAPI_DISABLE_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
      "cflags_cc": ["-std=c++17", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "ldflags": ["-Wl,--exclude-libs,ALL", "-Wl,--wrap=cpu_cc_compute_all_x86_64", "-Wl,--wrap=helper_hlt_x86_64", "-Wl,--wrap=x86_cpu_exec_interrupt_x86_64", "-Wl,--wrap=helper_write_crN_x86_64", "-Wl,--wrap=tb_invalidate_phys_page_fast_x86_64", "-Wl,--wrap=tlb_reset_dirty_by_vaddr_x86_64", "-Wl,--wrap=helper_set_dr_x86_64", "-Wl,--wrap=helper_rdmsr_x86_64", "-Wl,--wrap=helper_wrmsr_x86_64", "-Wl,--wrap=helper_read_eflags_x86_64", "-Wl,--wrap=translator_loop_x86_64", "-Wl,--wrap=cpu_ldub_code_x86_64", "-Wl,--wrap=memset"]
    }
  ]
}
