#!/usr/bin/env node
// The amesh CNI plugin (CNI 1.0). Install it in the runtime's CNI bin dir
// (for example /opt/cni/bin/amesh-cni) and chain it after an interface plugin.
import '../dist/node/cni-main.js';
