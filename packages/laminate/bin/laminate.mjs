#!/usr/bin/env node
// The `laminate` command of the umbrella package; it lives in @laminate/cli.
import '@laminate/cli/bin';
