#!/usr/bin/env node
// Creates the chart's "init" Network and Subnet(s) once, at install (the chart's post-install hook Job).
// Objects come from env HN_INIT_OBJECTS (a JSON array, created in order). An object that already exists counts as
// created. While the webhook is not serving yet (the Network/Subnet webhook fails closed, so the API server answers
// 500 "failed calling webhook") or the API server is unreachable, it retries until HN_INIT_TIMEOUT_SECONDS (default
// 300); any other refusal (a webhook denial, 403, 422) fails at once with the API server's message.
// In-cluster credentials by default; HN_API_SERVER, HN_TOKEN_FILE and HN_CA_FILE override them (tests).
import { readFileSync } from 'node:fs';
import https from 'node:https';
import { Buffer } from 'node:buffer';
import console from 'node:console';
import process from 'node:process';
import { URL } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

const SA = '/var/run/secrets/kubernetes.io/serviceaccount';
const server =
  process.env.HN_API_SERVER ??
  `https://${process.env.KUBERNETES_SERVICE_HOST}:${process.env.KUBERNETES_SERVICE_PORT ?? '443'}`;
const tokenFile = process.env.HN_TOKEN_FILE ?? `${SA}/token`;
const ca = readFileSync(process.env.HN_CA_FILE ?? `${SA}/ca.crt`);
const deadline = Date.now() + Number(process.env.HN_INIT_TIMEOUT_SECONDS ?? '300') * 1000;
const objects = JSON.parse(process.env.HN_INIT_OBJECTS ?? '[]');

function post(path, body) {
  const url = new URL(path, server);
  const data = JSON.stringify(body);
  const token = readFileSync(tokenFile, 'utf8').trim();
  return new Promise((resolve, reject) => {
    const req = https.request(
      url,
      {
        method: 'POST',
        ca,
        headers: {
          Authorization: `Bearer ${token}`,
          'Content-Type': 'application/json',
          'Content-Length': Buffer.byteLength(data),
          'User-Agent': 'hybridnet-init',
        },
        timeout: 15_000,
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c) => (text += c));
        res.on('end', () => resolve({ code: res.statusCode ?? 0, text }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timed out after 15 s')));
    req.on('error', reject);
    req.end(data);
  });
}

function messageOf(text) {
  try {
    return JSON.parse(text).message ?? text;
  } catch {
    return text;
  }
}

for (const obj of objects) {
  const plural = { Network: 'networks', Subnet: 'subnets' }[obj.kind];
  if (plural === undefined) throw new Error(`HN_INIT_OBJECTS: unsupported kind ${obj.kind}`);
  const what = `${obj.kind} ${obj.metadata.name}`;
  for (let attempt = 1; ; attempt++) {
    let outcome;
    try {
      const { code, text } = await post(`/apis/networking.alibaba.com/v1/${plural}`, obj);
      if (code === 201 || code === 200) outcome = 'created';
      else if (code === 409) outcome = 'already exists';
      else if (code >= 500 || code === 429) outcome = { retry: `${code} ${messageOf(text)}` };
      else {
        console.error(`hybridnet-init: ${what} refused: ${code} ${messageOf(text)}`);
        process.exit(1);
      }
    } catch (e) {
      outcome = { retry: e.message };
    }
    if (typeof outcome === 'string') {
      console.log(`hybridnet-init: ${what}: ${outcome}`);
      break;
    }
    if (Date.now() > deadline) {
      console.error(`hybridnet-init: ${what}: giving up after ${attempt} attempts: ${outcome.retry}`);
      process.exit(1);
    }
    console.log(`hybridnet-init: ${what}: attempt ${attempt}: ${outcome.retry}; retrying`);
    await sleep(Math.min(1000 * attempt, 5000));
  }
}
