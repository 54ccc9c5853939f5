// What a refused request gets back: a sentence a person can act on.
import { Type } from '@sinclair/typebox'

export const ErrorSchema = Type.Object({
  error: Type.String(),
  message: Type.String(),
}, { additionalProperties: false })
