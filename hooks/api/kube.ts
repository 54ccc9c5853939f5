// Schema pieces every API of ours shares: Kubernetes object metadata, a
// child object as Metacontroller sends it, maps, and opaque Kubernetes
// types we pass through without looking inside.
import { Type, type ObjectOptions, type Static, type TSchema, type TUnsafe } from '@sinclair/typebox'

// A Kubernetes object we pass through without looking inside (affinity,
// resources, ...): validated by the API server's own schema, not ours.
export const Opaque = (description: string) =>
  Type.Object({}, { 'additionalProperties': true, description, 'x-kubernetes-preserve-unknown-fields': true })

// A map with keys of any name. Type.Record writes patternProperties "^(.*)$",
// which a validator tests against every key of every map in every request;
// additionalProperties says the same without a regular expression (and is
// what a CRD needs anyway).
// (An Object at run time, so TypeBox's own checks know it; a Record to
// TypeScript.)
export const MapOf = <T extends TSchema>(value: T, options: ObjectOptions = {}) =>
  Type.Object({}, { ...options, additionalProperties: value }) as unknown as TUnsafe<Record<string, Static<T>>>
export const StringMap = (description: string) => MapOf(Type.String(), { description })

export const ObjectMetaSchema = Type.Object({
  name: Type.String({ minLength: 1 }),
  namespace: Type.Optional(Type.String()),
  uid: Type.Optional(Type.String()),
  generation: Type.Optional(Type.Integer()),
  labels: Type.Optional(MapOf(Type.String())),
  annotations: Type.Optional(MapOf(Type.String())),
  deletionTimestamp: Type.Optional(Type.String()),
}, { additionalProperties: true })
export type ObjectMeta = Static<typeof ObjectMetaSchema> & Record<string, unknown>

// A child as Metacontroller sends it: any Kubernetes object with a name.
export const KubeObjectSchema = Type.Object({
  apiVersion: Type.String(),
  kind: Type.String(),
  metadata: ObjectMetaSchema,
}, { additionalProperties: true })
export type KubeObject = { apiVersion: string, kind: string, metadata: ObjectMeta } & Record<string, unknown>

export const ConditionSchema = Type.Object({
  type: Type.String(),
  status: Type.Union([Type.Literal('True'), Type.Literal('False'), Type.Literal('Unknown')]),
  reason: Type.Optional(Type.String()),
  message: Type.Optional(Type.String()),
  lastTransitionTime: Type.Optional(Type.String()),
})
export type Condition = Static<typeof ConditionSchema>
