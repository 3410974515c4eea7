/**
 * Moved to src/storage/ (files.ts): this path re-exports it so code written against the old one
 * keeps compiling. New code imports from '../storage/files.js'.
 */
export * from '../storage/files.js';
