/** ONNX element types, their byte sizes and typed-array carriers. */
export type DType = 'float32' | 'uint8' | 'int8' | 'uint16' | 'int16' | 'int32' | 'int64' | 'string' | 'bool' | 'float16' | 'float64' | 'uint32' | 'uint64' | 'bfloat16';

const CODE_TO_DTYPE: Record<number, DType> = {
  1: 'float32',
  2: 'uint8',
  3: 'int8',
  4: 'uint16',
  5: 'int16',
  6: 'int32',
  7: 'int64',
  8: 'string',
  9: 'bool',
  10: 'float16',
  11: 'float64',
  12: 'uint32',
  13: 'uint64',
  16: 'bfloat16',
};

const DTYPE_TO_CODE = Object.fromEntries(Object.entries(CODE_TO_DTYPE).map(([k, v]) => [v, Number(k)])) as Record<DType, number>;

export function dtypeFromCode(code: number): DType | undefined {
  return CODE_TO_DTYPE[code];
}

export function dtypeCode(dtype: DType): number {
  return DTYPE_TO_CODE[dtype];
}

export const DTYPE_SIZE: Record<DType, number> = {
  float32: 4,
  uint8: 1,
  int8: 1,
  uint16: 2,
  int16: 2,
  int32: 4,
  int64: 8,
  string: 0,
  bool: 1,
  float16: 2,
  float64: 8,
  uint32: 4,
  uint64: 8,
  bfloat16: 2,
};

export function isFloat(dtype: DType): boolean {
  return dtype === 'float32' || dtype === 'float16' || dtype === 'float64' || dtype === 'bfloat16';
}

export type TypedArray = Float32Array | Float64Array | Int8Array | Uint8Array | Int16Array | Uint16Array | Int32Array | Uint32Array | BigInt64Array | BigUint64Array;

/** A typed array of the carrier type ONNX Runtime uses for `dtype`, sharing or copying `bytes`. */
export function typedArrayFromBytes(dtype: DType, bytes: Uint8Array, count: number): TypedArray {
  const size = DTYPE_SIZE[dtype];
  if (bytes.byteLength !== size * count) {
    throw new Error(`tensor of ${count} ${dtype} values needs ${size * count} bytes, got ${bytes.byteLength}`);
  }
  // Typed arrays need aligned offsets; copy when the view is not aligned.
  let buf = bytes;
  if (bytes.byteOffset % Math.max(size, 1) !== 0) buf = new Uint8Array(bytes);
  const ab = buf.buffer as ArrayBuffer;
  switch (dtype) {
    case 'float32':
      return new Float32Array(ab, buf.byteOffset, count);
    case 'float64':
      return new Float64Array(ab, buf.byteOffset, count);
    case 'int8':
      return new Int8Array(ab, buf.byteOffset, count);
    case 'uint8':
    case 'bool':
      return new Uint8Array(ab, buf.byteOffset, count);
    case 'int16':
      return new Int16Array(ab, buf.byteOffset, count);
    case 'uint16':
    case 'float16':
    case 'bfloat16':
      return new Uint16Array(ab, buf.byteOffset, count);
    case 'int32':
      return new Int32Array(ab, buf.byteOffset, count);
    case 'uint32':
      return new Uint32Array(ab, buf.byteOffset, count);
    case 'int64':
      return new BigInt64Array(ab, buf.byteOffset, count);
    case 'uint64':
      return new BigUint64Array(ab, buf.byteOffset, count);
    case 'string':
      throw new Error('string tensors have no typed-array carrier');
  }
}

export function allocTypedArray(dtype: DType, count: number): TypedArray {
  return typedArrayFromBytes(dtype, new Uint8Array(DTYPE_SIZE[dtype] * count), count);
}

export function bytesOf(data: TypedArray): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}
