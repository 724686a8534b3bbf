// Jest setup file of the `api-on-dynamodb` project: createTestApp builds its app on DynamoDB.
process.env.TRIGGERS_TEST_STORE = 'dynamodb';
