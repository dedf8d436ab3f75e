/** Data: tokenizers, text corpora and LM batching, CSV (time series, classification, tagging), synthetic tasks. */
export { DataError } from './errors.js';
export { CharTokenizer, ByteTokenizer, WordTokenizer, tokenizerFromJSON, UNK, type Tokenizer, type TokenizerJSON, type StreamDecoder } from './tokenizer.js';
export { RWKVWorldTokenizer, HFTokenizer, parsePythonLiteral } from './pretrained.js';
export { splitTrainVal, ContiguousBatches, randomWindows, type LMBatch } from './text.js';
export { parseCSV, columnIndex, numericColumn, numericColumnNames, parseNumber, type CSVTable } from './csv.js';
export { Normalizer, ForecastDataset, type NormalizerJSON, type ForecastOptions, type ForecastBatch, type SplitName } from './timeseries.js';
export { readClassification, readTagging, shuffleSplit, type ClassificationExample, type TaggingExample } from './labelled.js';
export {
  syntheticBatch, syntheticVocabSize, syntheticNames, IGNORE, type SyntheticName, type SyntheticOptions, type TokenTaskBatch, type RegressionBatch,
} from './synthetic.js';
