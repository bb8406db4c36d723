{
  "targets": [
    {
      "target_name": "ipc_native",
      "sources": [
        "src/addon.cc",
        "src/pipe.cc",
        "src/pidfd.cc",
        "src/socket.cc",
        "src/fifo.cc",
        "src/poll.cc",
        "src/mq.cc"
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED", "NAPI_CPP_EXCEPTIONS"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "cflags_cc!": ["-fno-exceptions"],
      "libraries": ["-lrt"],
      "conditions": [
        ["OS!='linux'", { "sources!": ["src/pipe.cc", "src/pidfd.cc", "src/socket.cc", "src/fifo.cc", "src/poll.cc", "src/mq.cc"], "sources": ["src/unsupported.cc"] }]
      ]
    }
  ]
}
