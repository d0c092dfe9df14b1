// SPDX-License-Identifier: GPL-3.0-or-later
// Starts an S3 server (@20minutes/s3rver, which verifies Signature V4 with
// the access key S3RVER / secret S3RVER) for the integration tests.
// usage: node s3-server.js PORT DIRECTORY BUCKET
'use strict';
const S3rver = require('@20minutes/s3rver');
const [port, directory, bucket] = process.argv.slice(2);
new S3rver({
  port: Number(port),
  address: '127.0.0.1',
  silent: true,
  directory,
  configureBuckets: [{ name: bucket }],
}).run().then(() => {
  process.stdout.write('ready\n');
});
