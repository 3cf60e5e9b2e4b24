console.log('console build placeholder');
