{
  "targets": [
    {
      "target_name": "amesh_netns",
      "conditions": [
        ["OS=='linux'", {
          "sources": ["native/amesh_netns.c"],
          "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-O2"]
        }, {
          "sources": ["native/unsupported.c"]
        }]
      ]
    }
  ]
}
