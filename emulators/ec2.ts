import { randomUUID } from 'node:crypto';
import { createServer, request, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CONTROL_PREFIX, handleControl } from './control';
import { FaultBook } from './faults';
import { type EmulatedVm, VmHost } from './vm-host';

/**
 * An AMI moto ships in every region (Ubuntu 14.04, from its bundled `amis.json`), for drivers
 * pointed at this emulator. moto accepts any id unless MOTO_ENABLE_AMI_VALIDATION is set; this one
 * also passes that check.
 */
export const EC2_EMULATOR_AMI = 'ami-1e749f67';

export interface Ec2EmulatorOptions {
  /** The moto server every request is forwarded to (EC2 and S3 alike). */
  motoEndpoint: string;
  /** Where the VMs' boot folders go. */
  root: string;
  /** A free port when omitted. */
  port?: number;
}

export interface Ec2Emulator {
  endpoint: string;
  /** Stops serving and kills every VM still booted. */
  stop(): Promise<void>;
}

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** Who sent a request, from its SigV4 credential scope: moto keys accounts by access key, state by region. */
interface Caller {
  accessKeyId: string;
  region: string;
  service: string;
}

// What moto assumes when a request carries no credential scope.
const DEFAULT_CALLER: Caller = { accessKeyId: 'test', region: 'us-east-1', service: 'ec2' };

const EC2_API_VERSION = '2016-11-15';

/**
 * A node:http server in front of moto that adds what moto lacks for EC2 (clouds.md §2.3):
 * ClientToken idempotency, capacity and quota errors from a {@link FaultBook}, VMs that boot their
 * user data in a {@link VmHost}, and spot preemptions a driver can tell from deletions. Everything
 * else, S3 included, passes through untouched.
 */
export async function startEc2Emulator(options: Ec2EmulatorOptions): Promise<Ec2Emulator> {
  const emulator = new Ec2Proxy(options.motoEndpoint, new VmHost(options.root, 'aws'));
  const server = createServer((req, res) => {
    void emulator.handle(req, res).catch((err: unknown) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
      res.end(`ec2 emulator: ${err instanceof Error ? err.message : String(err)}`);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await emulator.host.reset();
    },
  };
}

class Ec2Proxy {
  private readonly faults = new FaultBook();
  /** RunInstances by (account, region, ClientToken): a repeat waits for and returns the first call's answer. */
  private readonly launches = new Map<string, Promise<Reply>>();
  /** Who launched each VM, to terminate it in moto as the same account. */
  private readonly owners = new Map<string, Caller>();
  /** Instances the spot market took: DescribeInstances reports their state reason as EC2 does. */
  private readonly preempted = new Set<string>();

  constructor(
    private readonly motoEndpoint: string,
    readonly host: VmHost,
  ) {}

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.url?.startsWith(CONTROL_PREFIX)) return this.control(req, res);
    const caller = callerOf(req.headers.authorization);
    if (req.method !== 'POST' || caller?.service !== 'ec2') return this.pipe(req, res);
    const body = await readBody(req);
    const params = new URLSearchParams(body.toString('utf8'));
    switch (params.get('Action')) {
      case 'RunInstances':
        return send(res, await this.runInstances(req, body, params, caller));
      case 'TerminateInstances':
        return send(res, await this.terminateInstances(req, body, params));
      case 'DescribeInstances':
        return send(res, await this.describeInstances(req, body));
      default:
        return send(res, await this.forward(req, body));
    }
  }

  private async control(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // The shared reset only clears the host; terminate the VMs in moto too, or it would still report them running.
    if (req.method === 'POST' && req.url === `${CONTROL_PREFIX}/reset`) {
      await Promise.all(this.host.live().map((vm) => this.terminateInMoto(vm.id)));
    }
    await handleControl(req, res, { host: this.host, faults: this.faults, preempt: (vm) => this.preempt(vm) });
  }

  private runInstances(req: IncomingMessage, body: Buffer, params: URLSearchParams, caller: Caller): Promise<Reply> {
    const token = params.get('ClientToken');
    if (!token) return this.launch(req, body, params, caller);
    const key = JSON.stringify([caller.accessKeyId, caller.region, token]);
    const earlier = this.launches.get(key);
    if (earlier) return earlier;
    // A failed launch does not use the token up: a retry may try again.
    const launch = this.launch(req, body, params, caller).then(
      (reply) => {
        if (reply.status !== 200) this.launches.delete(key);
        return reply;
      },
      (err: unknown) => {
        this.launches.delete(key);
        throw err;
      },
    );
    this.launches.set(key, launch);
    return launch;
  }

  private async launch(req: IncomingMessage, body: Buffer, params: URLSearchParams, caller: Caller): Promise<Reply> {
    const spot = params.get('InstanceMarketOptions.MarketType') === 'spot';
    const instanceType = params.get('InstanceType') ?? 'm1.small';
    const requestedZone = params.get('Placement.AvailabilityZone');
    const fault = this.faults.take({ region: caller.region, zone: requestedZone, instance_type: instanceType });
    if (fault === 'capacity') {
      const where = requestedZone ?? caller.region;
      return ec2Error(500, 'InsufficientInstanceCapacity', `We currently do not have sufficient ${instanceType} capacity in the Availability Zone you requested (${where}). Our system will be working on provisioning additional capacity.`);
    }
    if (fault === 'quota') {
      return spot
        ? ec2Error(400, 'MaxSpotInstanceCountExceeded', 'Max spot instance count exceeded')
        : ec2Error(400, 'VcpuLimitExceeded', 'You have requested more vCPU capacity than your current vCPU limit allows for the instance bucket that the specified instance type belongs to.');
    }
    const reply = await this.forward(req, body);
    if (reply.status !== 200) return reply;
    const bootScript = Buffer.from(params.get('UserData') ?? '', 'base64').toString('utf8');
    const tags = instanceTags(params);
    for (const item of instanceItems(reply.body.toString('utf8'))) {
      const id = textOf(item, 'instanceId');
      if (!id) continue;
      this.owners.set(id, caller);
      const zone = /<placement>[\s\S]*?<availabilityZone>([^<]*)<\/availabilityZone>/.exec(item)?.[1] ?? requestedZone;
      this.host.boot({ id, name: tags.Name ?? id, region: caller.region, zone, instance_type: instanceType, spot, tags }, bootScript);
    }
    return reply;
  }

  private async terminateInstances(req: IncomingMessage, body: Buffer, params: URLSearchParams): Promise<Reply> {
    const reply = await this.forward(req, body);
    if (reply.status === 200) await Promise.all(listParam(params, 'InstanceId').map((id) => this.host.terminate(id, 'deleted')));
    return reply;
  }

  private async describeInstances(req: IncomingMessage, body: Buffer): Promise<Reply> {
    const reply = await this.forward(req, body);
    if (reply.status !== 200 || this.preempted.size === 0) return reply;
    return { ...reply, body: Buffer.from(markPreempted(reply.body.toString('utf8'), this.preempted), 'utf8') };
  }

  /** EC2 terminates a reclaimed one-time spot instance: gone in moto, its processes killed, its reason kept. */
  private async preempt(vm: EmulatedVm): Promise<void> {
    await this.terminateInMoto(vm.id);
    this.preempted.add(vm.id);
    await this.host.terminate(vm.id, 'preempted');
  }

  private async terminateInMoto(id: string): Promise<void> {
    const { accessKeyId, region } = this.owners.get(id) ?? DEFAULT_CALLER;
    const day = new Date().toISOString().slice(0, 10).replace(/-/g, '');
    const res = await fetch(`${this.motoEndpoint}/`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        // moto reads the account and region from the scope and does not check the signature.
        authorization: `AWS4-HMAC-SHA256 Credential=${accessKeyId}/${day}/${region}/ec2/aws4_request, SignedHeaders=host, Signature=0`,
      },
      body: new URLSearchParams({ Action: 'TerminateInstances', Version: EC2_API_VERSION, 'InstanceId.1': id }).toString(),
    });
    if (!res.ok) throw new Error(`moto TerminateInstances ${id}: HTTP ${res.status} ${await res.text()}`);
  }

  /** Sends the request on to moto with its body and headers as they came, and buffers the answer. */
  private forward(req: IncomingMessage, body: Buffer): Promise<Reply> {
    return new Promise((resolve, reject) => {
      const upstream = request(new URL(req.url ?? '/', this.motoEndpoint), { method: req.method, headers: req.headers }, (res) => {
        readBody(res).then((buffered) => resolve({ status: res.statusCode ?? 502, headers: res.headers, body: buffered }), reject);
      });
      upstream.once('error', reject);
      upstream.end(body);
    });
  }

  /** Streams the request to moto and moto's answer back, untouched (S3 uploads and downloads). */
  private pipe(req: IncomingMessage, res: ServerResponse): Promise<void> {
    return new Promise((resolve, reject) => {
      const upstream = request(new URL(req.url ?? '/', this.motoEndpoint), { method: req.method, headers: req.headers }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
        answer.once('end', resolve);
        answer.once('error', reject);
      });
      upstream.once('error', reject);
      req.pipe(upstream);
    });
  }
}

/** The access key, region and service of a SigV4 `Authorization` header; undefined without one. */
function callerOf(authorization: string | undefined): Caller | undefined {
  if (authorization === undefined) return undefined;
  const match = /Credential=([^/]+)\/\d{8}\/([^/]+)\/([^/]+)\/aws4_request/.exec(authorization);
  if (!match) return undefined;
  const [, accessKeyId = DEFAULT_CALLER.accessKeyId, region = DEFAULT_CALLER.region, service = ''] = match;
  return { accessKeyId, region, service };
}

async function readBody(stream: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function send(res: ServerResponse, reply: Reply): void {
  // The body may have been rewritten, and is sent whole.
  const { 'transfer-encoding': _chunked, ...headers } = reply.headers;
  res.writeHead(reply.status, { ...headers, 'content-length': String(reply.body.length) });
  res.end(reply.body);
}

/** EC2's error document, as the SDK's EC2 query protocol parses it. */
function ec2Error(status: number, code: string, message: string): Reply {
  const body = `<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>${code}</Code><Message>${escapeXml(message)}</Message></Error></Errors><RequestID>${randomUUID()}</RequestID></Response>`;
  return { status, headers: { 'content-type': 'text/xml;charset=UTF-8' }, body: Buffer.from(body, 'utf8') };
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** `Name.1`, `Name.2`, … of an EC2 query request, in order. */
function listParam(params: URLSearchParams, name: string): string[] {
  const values: string[] = [];
  for (let i = 1; params.has(`${name}.${i}`); i++) values.push(params.get(`${name}.${i}`) ?? '');
  return values;
}

/** The tags a RunInstances asks for on its instances (`TagSpecification.N.Tag.M.Key/Value`). */
function instanceTags(params: URLSearchParams): Record<string, string> {
  const tags: Record<string, string> = {};
  for (let n = 1; params.has(`TagSpecification.${n}.ResourceType`); n++) {
    if (params.get(`TagSpecification.${n}.ResourceType`) !== 'instance') continue;
    for (let m = 1; params.has(`TagSpecification.${n}.Tag.${m}.Key`); m++) {
      tags[params.get(`TagSpecification.${n}.Tag.${m}.Key`) ?? ''] = params.get(`TagSpecification.${n}.Tag.${m}.Value`) ?? '';
    }
  }
  return tags;
}

/** The first `<tag>…</tag>` text in `xml`. */
function textOf(xml: string, tag: string): string | undefined {
  return new RegExp(`<${tag}>([^<]*)</${tag}>`).exec(xml)?.[1];
}

/** The `<item>` of each instance in a RunInstances or DescribeInstances answer, as spans of `xml`. */
function instanceSpans(xml: string): { start: number; end: number }[] {
  const spans: { start: number; end: number }[] = [];
  let inSet = false;
  let depth = 0;
  let start = 0;
  for (const match of xml.matchAll(/<(\/?)(instancesSet|item)>/g)) {
    const [tag, closing, name] = match;
    if (name === 'instancesSet') {
      inSet = closing === '';
      depth = 0;
    } else if (inSet && closing === '') {
      if (depth === 0) start = match.index;
      depth += 1;
    } else if (inSet) {
      depth -= 1;
      if (depth === 0) spans.push({ start, end: match.index + tag.length });
    }
  }
  return spans;
}

function instanceItems(xml: string): string[] {
  return instanceSpans(xml).map(({ start, end }) => xml.slice(start, end));
}

// What EC2 reports for a spot instance its market reclaimed (moto reports a user-initiated shutdown).
const SPOT_RECLAIM_STATE_REASON = '<stateReason><code>Server.SpotInstanceTermination</code><message>Server.SpotInstanceTermination: Spot instance termination</message></stateReason>';

const STATE_REASON = /<stateReason>[\s\S]*?<\/stateReason>|<stateReason\/>/;

/** DescribeInstances XML with the state reason of every preempted instance rewritten. */
function markPreempted(xml: string, preempted: ReadonlySet<string>): string {
  let out = '';
  let last = 0;
  for (const { start, end } of instanceSpans(xml)) {
    const item = xml.slice(start, end);
    const id = textOf(item, 'instanceId');
    if (id === undefined || !preempted.has(id)) continue;
    const patched = STATE_REASON.test(item) ? item.replace(STATE_REASON, SPOT_RECLAIM_STATE_REASON) : item.replace(/<\/item>$/, `${SPOT_RECLAIM_STATE_REASON}</item>`);
    out += xml.slice(last, start) + patched;
    last = end;
  }
  return out + xml.slice(last);
}
