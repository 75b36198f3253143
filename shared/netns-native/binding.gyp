{
  "targets": [
    {
      "target_name": "netns_native",
      "sources": ["netns_native.c", "files.c", "sockets.c", "agent.c"],
      "cflags": ["-std=gnu11", "-O2", "-Wall", "-Wextra", "-fvisibility=hidden"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
