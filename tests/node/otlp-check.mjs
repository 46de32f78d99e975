// tests/node/otlp-check.mjs - checks OTLP/HTTP JSON export bodies
// (ExportTraceServiceRequest) field by field against the OTLP
// specification's JSON encoding (opentelemetry-proto, trace/v1 and
// common/v1; "JSON Protobuf Encoding" of the OTLP spec), and prints every
// span as one tab-separated line for the test to compare with the store:
//
//   node otlp-check.mjs FILE...
//   -> traceId spanId parentSpanId (- for none) name start end status attributes(JSON, sorted)
//
// The schema is closed (no field the protocol does not name), trace and
// span ids are lower-case hex of 16 and 8 bytes and not all zero,
// uint64 nanosecond times are decimal strings, enums are integers, an
// attribute value has exactly one of the AnyValue fields.  Prints one line
// per failure on stderr and exits 1 when there was one.
import { readFileSync } from 'node:fs';
import Ajv2020 from 'ajv/dist/2020.js';

const u64 = { type: 'string', pattern: '^(0|[1-9][0-9]{0,19})$' };
const schema = {
	$defs: {
		anyValue: {
			type: 'object', minProperties: 1, maxProperties: 1, additionalProperties: false,
			properties: {
				stringValue: { type: 'string' }, boolValue: { type: 'boolean' },
				intValue: { type: 'string', pattern: '^-?(0|[1-9][0-9]{0,18})$' },
				doubleValue: { type: 'number' },
				arrayValue: { type: 'object', additionalProperties: false,
					properties: { values: { type: 'array', items: { $ref: '#/$defs/anyValue' } } } },
				kvlistValue: { type: 'object', additionalProperties: false,
					properties: { values: { type: 'array', items: { $ref: '#/$defs/keyValue' } } } },
				bytesValue: { type: 'string', contentEncoding: 'base64' },
			},
		},
		keyValue: {
			type: 'object', required: ['key', 'value'], additionalProperties: false,
			properties: { key: { type: 'string', minLength: 1 }, value: { $ref: '#/$defs/anyValue' } },
		},
		attributes: { type: 'array', items: { $ref: '#/$defs/keyValue' } },
		count: { type: 'integer', minimum: 0, maximum: 4294967295 },
		traceId: { type: 'string', pattern: '^(?!0{32})[0-9a-f]{32}$' },
		spanId: { type: 'string', pattern: '^(?!0{16})[0-9a-f]{16}$' },
		span: {
			type: 'object', additionalProperties: false,
			required: ['traceId', 'spanId', 'name', 'kind', 'startTimeUnixNano', 'endTimeUnixNano'],
			properties: {
				traceId: { $ref: '#/$defs/traceId' }, spanId: { $ref: '#/$defs/spanId' },
				traceState: { type: 'string' },
				parentSpanId: { anyOf: [{ $ref: '#/$defs/spanId' }, { const: '' }] },
				flags: { $ref: '#/$defs/count' },
				name: { type: 'string', minLength: 1 },
				kind: { type: 'integer', minimum: 0, maximum: 5 },
				startTimeUnixNano: u64, endTimeUnixNano: u64,
				attributes: { $ref: '#/$defs/attributes' },
				droppedAttributesCount: { $ref: '#/$defs/count' },
				events: { type: 'array' }, droppedEventsCount: { $ref: '#/$defs/count' },
				links: { type: 'array' }, droppedLinksCount: { $ref: '#/$defs/count' },
				status: { type: 'object', additionalProperties: false, properties: {
					message: { type: 'string' }, code: { type: 'integer', minimum: 0, maximum: 2 } } },
			},
		},
	},
	type: 'object', required: ['resourceSpans'], additionalProperties: false,
	properties: {
		resourceSpans: { type: 'array', minItems: 1, items: {
			type: 'object', required: ['scopeSpans'], additionalProperties: false,
			properties: {
				resource: { type: 'object', additionalProperties: false, properties: {
					attributes: { $ref: '#/$defs/attributes' },
					droppedAttributesCount: { $ref: '#/$defs/count' } } },
				schemaUrl: { type: 'string' },
				scopeSpans: { type: 'array', minItems: 1, items: {
					type: 'object', required: ['spans'], additionalProperties: false,
					properties: {
						scope: { type: 'object', additionalProperties: false, properties: {
							name: { type: 'string' }, version: { type: 'string' },
							attributes: { $ref: '#/$defs/attributes' },
							droppedAttributesCount: { $ref: '#/$defs/count' } } },
						schemaUrl: { type: 'string' },
						spans: { type: 'array', minItems: 1, items: { $ref: '#/$defs/span' } },
					},
				} },
			},
		} },
	},
};

const ajv = new Ajv2020({ allErrors: true, strict: true });
const validate = ajv.compile(schema);
let failures = 0;
const bad = (file, msg) => { failures++; console.error(`${file}: ${msg}`); };
const value = (v) => v.stringValue ?? v.intValue ?? JSON.stringify(v);

for (const file of process.argv.slice(2)) {
	let doc;
	try {
		doc = JSON.parse(readFileSync(file, 'utf8'));
	} catch (err) {
		bad(file, `not JSON: ${err.message}`);
		continue;
	}
	if (!validate(doc)) {
		for (const err of validate.errors) bad(file, `${err.instancePath || '/'} ${err.message}`);
		continue;
	}
	for (const rs of doc.resourceSpans) {
		const service = (rs.resource?.attributes ?? []).find((a) => a.key === 'service.name');
		if (!service || value(service.value) !== 'schakel') bad(file, 'no resource service.name = schakel');
		for (const ss of rs.scopeSpans) {
			for (const s of ss.spans) {
				if (BigInt(s.endTimeUnixNano) < BigInt(s.startTimeUnixNano))
					bad(file, `span ${s.spanId} ends before it starts`);
				const attrs = {};
				for (const a of s.attributes ?? []) {
					if (a.key in attrs) bad(file, `span ${s.spanId}: attribute ${a.key} twice`);
					attrs[a.key] = value(a.value);
				}
				const sorted = Object.fromEntries(Object.entries(attrs).sort());
				console.log([s.traceId, s.spanId, s.parentSpanId || '-', s.name, s.startTimeUnixNano,
					s.endTimeUnixNano, s.status?.code ?? 0, JSON.stringify(sorted)].join('\t'));
			}
		}
	}
}
process.exit(failures > 0 ? 1 : 0);
