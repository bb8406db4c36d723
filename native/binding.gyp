{
  "targets": [
    {
      "target_name": "ipc_native",
      "sources": [
        "src/addon.cc",
        "src/env.cc",
        "src/pipe.cc",
        "src/pidfd.cc",
        "src/socket.cc",
        "src/fifo.cc",
        "src/poll.cc",
        "src/fd.cc",
        "src/mark.cc",
        "src/mq.cc",
        "src/sysv.cc",
        "src/shm.cc",
        "src/sem.cc",
        "src/signal.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED", "NAPI_CPP_EXCEPTIONS", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "cflags_cc!": ["-fno-exceptions"],
      "libraries": ["-lrt", "-ldl"],
      "conditions": [
        ["OS!='linux'", { "sources!": ["src/env.cc", "src/pipe.cc", "src/pidfd.cc", "src/socket.cc", "src/fifo.cc", "src/poll.cc", "src/fd.cc", "src/mark.cc", "src/mq.cc", "src/sysv.cc", "src/shm.cc", "src/sem.cc", "src/signal.cc"], "sources": ["src/unsupported.cc"], "libraries!": ["-lrt", "-ldl"] }]
      ]
    }
  ]
}
