// Metacontroller's sync hook request and response, as schema builders each
// controller fills with its own parent and children.
import { Type, type TSchema } from '@sinclair/typebox'
import { KubeObjectSchema, MapOf, ObjectMetaSchema } from './kube.js'

// children['Pod.v1']['<name>' or '<namespace>/<name>'] (v1 and v2 hooks).
export const ChildMap = MapOf(MapOf(KubeObjectSchema))

// The children a hook reads are typed as far as it reads them (everything
// else stays open): a child of the wrong kind, or a pod status of the wrong
// shape, is a 422 naming the field, never a guess that could drop a member.
export const Open = <T extends Record<string, TSchema>>(properties: T) => Type.Object(properties, { additionalProperties: true })
export const OpenArray = <T extends Record<string, TSchema>>(properties: T) => Type.Optional(Type.Array(Open(properties)))
export const ChildrenOf = <T extends Record<string, TSchema>>(apiVersion: string, kind: string, properties: T) =>
  Type.Optional(MapOf(Open({ apiVersion: Type.Literal(apiVersion), kind: Type.Literal(kind), metadata: ObjectMetaSchema, ...properties })))
export const OptionalString = () => Type.Optional(Type.String())

// `{controller, parent, children, related, finalizing}`: children of kinds
// the controller does not declare stay open maps of objects.
export const syncRequestSchema = <P extends TSchema, C extends Record<string, TSchema>>(parent: P, children: C) => Type.Object({
  controller: Type.Optional(Type.Object({}, { additionalProperties: true })),
  parent,
  children: Type.Optional(Type.Object(children, { additionalProperties: MapOf(KubeObjectSchema) })),
  related: Type.Optional(ChildMap),
  finalizing: Type.Optional(Type.Boolean()),
}, { additionalProperties: true })

// v2 hooks parse the top level strictly: nothing but these keys. Children
// stay open objects (a response schema that lists no properties would make
// the serializer drop `spec`).
export const syncResponseSchema = <S extends TSchema>(status: S) => Type.Object({
  status,
  children: Type.Array(Type.Object({}, { additionalProperties: true })),
  resyncAfterSeconds: Type.Number(),
}, { additionalProperties: false })
