// The builder model code calls: GraphBuilder plus one method per op family. Each method is a
// thin delegate to the op's file, so adding a kernel family means adding one file here.

import type { BinaryOp } from '../../kernels/elementwise.ts';
import type { DType } from '../../runtime/dtype.ts';
import { GraphBuilder } from '../builder.ts';
import type { Value } from '../ir.ts';
import { binaryOp, castOp, scaleOp } from './elementwise.ts';

export class ModelGraph extends GraphBuilder {
  add(a: Value, b: Value, name?: string): Value {
    return binaryOp(this, 'add', a, b, name);
  }
  sub(a: Value, b: Value, name?: string): Value {
    return binaryOp(this, 'sub', a, b, name);
  }
  mul(a: Value, b: Value, name?: string): Value {
    return binaryOp(this, 'mul' as BinaryOp, a, b, name);
  }
  scale(a: Value, factor: number, bias = 0, name?: string): Value {
    return scaleOp(this, a, factor, bias, name);
  }
  cast(a: Value, dtype: DType, name?: string): Value {
    return castOp(this, a, dtype, name);
  }
}
