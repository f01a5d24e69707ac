/**
 * The ONNX protobuf schema (onnx.proto, IR version 10) as a protobufjs reflection root.
 * Field numbers follow the published ONNX IR specification; only the messages a model file
 * can contain are declared. Unknown fields are skipped by protobufjs on decode.
 */
import protobuf from 'protobufjs';

const repeated = (type: string, id: number, packed?: boolean) => ({
  type,
  id,
  rule: 'repeated',
  ...(packed === undefined ? {} : { options: { packed } }),
});
const opt = (type: string, id: number) => ({ type, id });

const onnxSchema = {
  nested: {
    onnx: {
      nested: {
        StringStringEntryProto: { fields: { key: opt('string', 1), value: opt('string', 2) } },
        OperatorSetIdProto: { fields: { domain: opt('string', 1), version: opt('int64', 2) } },
        TensorShapeProto: {
          fields: { dim: repeated('Dimension', 1) },
          nested: {
            Dimension: {
              oneofs: { value: { oneof: ['dimValue', 'dimParam'] } },
              fields: { dimValue: opt('int64', 1), dimParam: opt('string', 2), denotation: opt('string', 3) },
            },
          },
        },
        TypeProto: {
          oneofs: { value: { oneof: ['tensorType', 'sequenceType', 'mapType', 'optionalType', 'sparseTensorType'] } },
          fields: {
            tensorType: opt('Tensor', 1),
            sequenceType: opt('Sequence', 4),
            mapType: opt('Map', 5),
            optionalType: opt('Optional', 9),
            sparseTensorType: opt('SparseTensor', 8),
            denotation: opt('string', 6),
          },
          nested: {
            Tensor: { fields: { elemType: opt('int32', 1), shape: opt('TensorShapeProto', 2) } },
            Sequence: { fields: { elemType: opt('TypeProto', 1) } },
            Map: { fields: { keyType: opt('int32', 1), valueType: opt('TypeProto', 2) } },
            Optional: { fields: { elemType: opt('TypeProto', 1) } },
            SparseTensor: { fields: { elemType: opt('int32', 1), shape: opt('TensorShapeProto', 2) } },
          },
        },
        ValueInfoProto: {
          fields: {
            name: opt('string', 1),
            type: opt('TypeProto', 2),
            docString: opt('string', 3),
            metadataProps: repeated('StringStringEntryProto', 4),
          },
        },
        TensorProto: {
          fields: {
            dims: repeated('int64', 1, true),
            dataType: opt('int32', 2),
            segment: opt('Segment', 3),
            floatData: repeated('float', 4, true),
            int32Data: repeated('int32', 5, true),
            stringData: repeated('bytes', 6),
            int64Data: repeated('int64', 7, true),
            name: opt('string', 8),
            docString: opt('string', 12),
            rawData: opt('bytes', 9),
            externalData: repeated('StringStringEntryProto', 13),
            dataLocation: opt('int32', 14),
            doubleData: repeated('double', 10, true),
            uint64Data: repeated('uint64', 11, true),
            metadataProps: repeated('StringStringEntryProto', 16),
          },
          nested: { Segment: { fields: { begin: opt('int64', 1), end: opt('int64', 2) } } },
        },
        SparseTensorProto: {
          fields: { values: opt('TensorProto', 1), indices: opt('TensorProto', 2), dims: repeated('int64', 3, true) },
        },
        AttributeProto: {
          fields: {
            name: opt('string', 1),
            refAttrName: opt('string', 21),
            docString: opt('string', 13),
            type: opt('int32', 20),
            f: opt('float', 2),
            i: opt('int64', 3),
            s: opt('bytes', 4),
            t: opt('TensorProto', 5),
            g: opt('GraphProto', 6),
            sparseTensor: opt('SparseTensorProto', 22),
            tp: opt('TypeProto', 14),
            floats: repeated('float', 7, true),
            ints: repeated('int64', 8, true),
            strings: repeated('bytes', 9),
            tensors: repeated('TensorProto', 10),
            graphs: repeated('GraphProto', 11),
            sparseTensors: repeated('SparseTensorProto', 23),
            typeProtos: repeated('TypeProto', 15),
          },
        },
        NodeProto: {
          fields: {
            input: repeated('string', 1),
            output: repeated('string', 2),
            name: opt('string', 3),
            opType: opt('string', 4),
            domain: opt('string', 7),
            overload: opt('string', 8),
            attribute: repeated('AttributeProto', 5),
            docString: opt('string', 6),
            metadataProps: repeated('StringStringEntryProto', 9),
          },
        },
        GraphProto: {
          fields: {
            node: repeated('NodeProto', 1),
            name: opt('string', 2),
            initializer: repeated('TensorProto', 5),
            sparseInitializer: repeated('SparseTensorProto', 15),
            docString: opt('string', 10),
            input: repeated('ValueInfoProto', 11),
            output: repeated('ValueInfoProto', 12),
            valueInfo: repeated('ValueInfoProto', 13),
            metadataProps: repeated('StringStringEntryProto', 16),
          },
        },
        FunctionProto: {
          fields: {
            name: opt('string', 1),
            input: repeated('string', 4),
            output: repeated('string', 5),
            attribute: repeated('string', 6),
            attributeProto: repeated('AttributeProto', 11),
            node: repeated('NodeProto', 7),
            docString: opt('string', 8),
            opsetImport: repeated('OperatorSetIdProto', 9),
            domain: opt('string', 10),
            overload: opt('string', 13),
            valueInfo: repeated('ValueInfoProto', 12),
            metadataProps: repeated('StringStringEntryProto', 14),
          },
        },
        ModelProto: {
          fields: {
            irVersion: opt('int64', 1),
            opsetImport: repeated('OperatorSetIdProto', 8),
            producerName: opt('string', 2),
            producerVersion: opt('string', 3),
            domain: opt('string', 4),
            modelVersion: opt('int64', 5),
            docString: opt('string', 6),
            graph: opt('GraphProto', 7),
            metadataProps: repeated('StringStringEntryProto', 14),
            functions: repeated('FunctionProto', 25),
          },
        },
      },
    },
  },
};

const root = protobuf.Root.fromJSON(onnxSchema);

/** Reflection types for the ONNX messages we read and write. */
export const ModelProtoType = root.lookupType('onnx.ModelProto');

/** Converts a protobufjs int64 value (number or Long) to a JS number, saturating at the safe range. */
export function int64ToNumber(v: unknown): number {
  if (v === undefined || v === null) return 0;
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return clampBig(v);
  if (typeof v === 'string') return clampBig(BigInt(v));
  const long = v as { low: number; high: number; unsigned?: boolean };
  const big = (BigInt(long.high >>> 0) << 32n) | BigInt(long.low >>> 0);
  const signed = long.unsigned ? big : BigInt.asIntN(64, big);
  return clampBig(signed);
}

function clampBig(v: bigint): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) return Number.MAX_SAFE_INTEGER;
  if (v < BigInt(Number.MIN_SAFE_INTEGER)) return Number.MIN_SAFE_INTEGER;
  return Number(v);
}
